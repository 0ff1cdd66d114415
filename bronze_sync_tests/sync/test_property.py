"""Property test: any sequence of source mutations and syncs keeps the sync invariants.

After every sync, bronze's active rows equal the source exactly (keys and values), every row
that vanished is flagged by the purge-aware rule in force when it vanished, flags are never
both set, and total = active + deleted + purged. The row metadata columns agree with the
tracking columns: update_timestamp is LastSynced, load_timestamp never moves, record_hash
is the hash of the row's values.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import hypothesis.strategies as st
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bronze_sync.metadata.pipeline_config import record_purge
from bronze_sync.rows.record_hash import record_hashes
from bronze_sync_tests.helpers import NOW, PgTable, assert_bronze_invariants
from bronze_sync_tests.stateful import run_state_machine

METADATA = ["load_timestamp", "update_timestamp", "source_system", "batch_id", "record_hash"]
DATA_COLUMNS = ["id", "name", "amount", "createdon", "modifiedon"]
DAYS = st.integers(min_value=0, max_value=8 * 365)
AMOUNTS = st.decimals(min_value=-(10**19), max_value=10**19, places=18, allow_nan=False)


def machine_class(engine: sa.Engine, schema: str, make_config, harness_for, tmp_path):
    class SyncMachine(RuleBasedStateMachine):
        def _mutated(self) -> None:
            self.fresh = False

        def __init__(self) -> None:
            super().__init__()
            name = f"t_{uuid.uuid4().hex[:8]}"
            self.src = PgTable(engine, schema, name)
            config = make_config(
                [self.src.config(name=name, max_delete_fraction=1, metadata_columns=METADATA)],
                bronze={"path": str(tmp_path / name)},
            )
            self.h = harness_for(config)
            self.created: dict[str, dt.datetime] = {}
            self.live: set[str] = set()
            self.synced_active: set[str] = set()
            self.expected_flag: dict[str, str] = {}
            self.last_purge: dt.datetime | None = None
            self.counter = 0
            self.synced = False
            self.fresh = False  # no source mutation since the last sync
            self.loaded: dict[str, dt.datetime] = {}  # load_timestamp first seen per key

        def _new_key(self) -> str:
            self.counter += 1
            return f"k{self.counter:04d}"

        @rule(age=DAYS, amount=AMOUNTS, late=st.booleans())
        def insert(self, age: int, amount: Decimal, late: bool) -> None:
            self._mutated()
            key = self._new_key()
            created = NOW - dt.timedelta(days=age)
            extra = {"modifiedon": created} if late else {}
            self.src.insert([{"id": key, "createdon": created, "amount": amount, **extra}])
            self.created[key], _ = created, self.live.add(key)

        @precondition(lambda self: any(k not in self.live for k in self.created))
        @rule(data=st.data())
        def reinsert(self, data: st.DataObject) -> None:
            self._mutated()
            gone = sorted(k for k in self.created if k not in self.live)
            key = data.draw(st.sampled_from(gone))
            self.src.insert([{"id": key, "createdon": self.created[key], "name": "back"}])
            self.live.add(key)

        @precondition(lambda self: self.live)
        @rule(data=st.data(), amount=AMOUNTS)
        def update(self, data: st.DataObject, amount: Decimal) -> None:
            self._mutated()
            key = data.draw(st.sampled_from(sorted(self.live)))
            self.src.update([key], amount=amount, name=f"v{self.counter}")
            self.counter += 1

        @precondition(lambda self: self.live)
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            self._mutated()
            key = data.draw(st.sampled_from(sorted(self.live)))
            self.src.delete([key])
            self.live.discard(key)

        @rule(age=DAYS)
        def purge(self, age: int) -> None:
            self._mutated()
            cutoff = NOW - dt.timedelta(days=age)
            self.src.purge_before(cutoff)
            self.live = {k for k in self.live if self.created[k] >= cutoff}
            record_purge(self.h.meta, self.h.config.tables[0], cutoff, NOW)
            self.last_purge = cutoff

        # Partitioned and in-memory diffs must be interchangeable from one sync to the next.
        @rule(parts=st.sampled_from([None, 2, 8]))
        def sync(self, parts: int | None) -> None:
            self.h.sync(diff_partitions=parts)
            for key in self.synced_active - self.live:
                purged = self.last_purge is not None and self.created[key] < self.last_purge
                self.expected_flag[key] = "PURGE" if purged else "DELETE"
            for key in self.live:
                self.expected_flag.pop(key, None)
            self.synced_active = set(self.live)
            self.synced = True
            self.fresh = True

        @invariant()
        def bronze_matches_source(self) -> None:
            if not self.synced:
                return
            assert_bronze_invariants(self.h.bronze(), "id", self.synced_active, self.expected_flag)

        @invariant()
        def active_values_equal_source(self) -> None:
            if not self.fresh:
                return
            source = {r["id"]: (r["name"], r["amount"]) for r in self.src.rows()}
            bronze = self.h.bronze()
            active = bronze.filter(
                pc.invert(pc.or_(bronze.column("IsDeleted"), bronze.column("IsPurged")))
            )
            assert {r["id"]: (r["name"], r["amount"]) for r in active.to_pylist()} == source

        @invariant()
        def row_metadata_agrees(self) -> None:
            if not self.synced:
                return
            bronze = self.h.bronze()
            hashes = record_hashes(bronze, DATA_COLUMNS).to_pylist()
            for row, expected in zip(bronze.to_pylist(), hashes, strict=True):
                assert row["update_timestamp"] == row["LastSynced"], row["id"]
                assert row["load_timestamp"] <= row["update_timestamp"], row["id"]
                assert (
                    self.loaded.setdefault(row["id"], row["load_timestamp"])
                    == (row["load_timestamp"])
                ), f"{row['id']}: load_timestamp changed"
                assert (row["record_hash"], row["source_system"]) == (expected, "postgresql")

        def teardown(self) -> None:
            self.h.close()  # one pool per example would exhaust PostgreSQL's connections
            self.src.execute(f"DROP TABLE {self.src.source}")

    return SyncMachine


@pytest.mark.slow
def test_sync_invariants_hold_for_random_histories(
    pg_engine, pg_schema, make_config, harness_for, tmp_path
):
    machine = machine_class(pg_engine, pg_schema, make_config, harness_for, tmp_path)
    run_state_machine(machine, "BRONZE_SYNC_PROPERTY", examples=25)
