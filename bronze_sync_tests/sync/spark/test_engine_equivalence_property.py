"""Property test: for any source history, the spark engine writes the bronze native writes.

Two bronze tables follow one PostgreSQL table: one synced by the native engine, one by the
spark engine on a local Sail server. After every sync both hold the same rows, values,
flags, dates and operations, and report the same counts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import hypothesis.strategies as st
import pytest
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bronze_sync.bronze.row_metadata import METADATA_TYPES
from bronze_sync.metadata.pipeline_config import record_purge
from bronze_sync_tests.helpers import NOW, PgTable, assert_bronze_invariants
from bronze_sync_tests.stateful import run_state_machine

DAYS = st.integers(min_value=0, max_value=3 * 365)
AMOUNTS = st.decimals(min_value=-(10**6), max_value=10**6, places=4, allow_nan=False)
COUNTED = ("inserted", "updated", "deleted", "purged", "undeleted", "late_inserts")


def machine_class(pg_engine, pg_schema, make_config, harness_for, tmp_path, remote, **settings):
    class EngineTwins(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            name = f"t_{uuid.uuid4().hex[:8]}"
            self.src = PgTable(pg_engine, pg_schema, name)
            spark = {"engine": "spark", "spark": {"remote": remote}}
            entry = self.src.config(
                name=name, max_delete_fraction=1, watermark_overlap_minutes=0, **settings
            )
            self.native = harness_for(
                make_config([entry], bronze={"path": str(tmp_path / name / "n")})
            )
            self.spark = harness_for(
                make_config([{**entry, **spark}], bronze={"path": str(tmp_path / name / "s")})
            )
            self.created: dict[str, dt.datetime] = {}
            self.live: set[str] = set()
            self.synced_active: set[str] = set()
            self.expected_flag: dict[str, str] = {}
            self.last_purge: dt.datetime | None = None
            self.counter = 0
            self.syncs = 0
            self.added = 0

        def _new_key(self) -> str:
            self.counter += 1
            return f"k{self.counter:04d}"

        @rule(age=DAYS, amount=AMOUNTS, back_dated=st.booleans())
        def insert(self, age: int, amount: Decimal, back_dated: bool) -> None:
            key = self._new_key()
            created = NOW - dt.timedelta(days=age)
            # A back-dated modified value falls before the watermark: a late insert.
            extra = {"modifiedon": created} if back_dated else {}
            self.src.insert([{"id": key, "createdon": created, "amount": amount, **extra}])
            self.created[key] = created
            self.live.add(key)

        @precondition(lambda self: any(k not in self.live for k in self.created))
        @rule(data=st.data(), back_dated=st.booleans())
        def reuse_key(self, data: st.DataObject, back_dated: bool) -> None:
            key = data.draw(st.sampled_from(sorted(k for k in self.created if k not in self.live)))
            extra = {"modifiedon": self.created[key]} if back_dated else {}
            self.src.insert([{"id": key, "createdon": self.created[key], "name": "back", **extra}])
            self.live.add(key)

        @precondition(lambda self: self.live)
        @rule(data=st.data(), amount=AMOUNTS, touch=st.booleans())
        def update(self, data: st.DataObject, amount: Decimal, touch: bool) -> None:
            key = data.draw(st.sampled_from(sorted(self.live)))
            self.counter += 1
            values = {"amount": amount, "name": f"v{self.counter}"}
            if not touch:  # a change that keeps the modified value: no engine may see it
                values["modifiedon"] = self.src.rows_by_id()[key]["modifiedon"]
            self.src.update([key], **values)

        @precondition(lambda self: self.live)
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            key = data.draw(st.sampled_from(sorted(self.live)))
            self.src.delete([key])
            self.live.discard(key)

        @rule(age=DAYS)
        def purge(self, age: int) -> None:
            cutoff = NOW - dt.timedelta(days=age)
            self.src.purge_before(cutoff)
            self.live = {k for k in self.live if self.created[k] >= cutoff}
            for h in (self.native, self.spark):
                record_purge(h.meta, h.config.tables[0], cutoff, NOW)
            self.last_purge = cutoff

        @precondition(lambda self: self.added < 2)
        @rule(filled=st.booleans())
        def add_column(self, filled: bool) -> None:
            # A default reaches old rows without a new modified value: only a fill sees it.
            self.added += 1
            default = f" DEFAULT 'd{self.added}'" if filled else ""
            self.src.execute(
                f"ALTER TABLE {self.src.source} ADD COLUMN c{self.added} TEXT{default}"
            )

        @rule()
        def sync(self) -> None:
            self.syncs += 1
            when = NOW + dt.timedelta(hours=self.syncs)
            self.native.now = self.spark.now = when
            batch = f"batch-{self.syncs}"  # one sync batch: the same batch_id in both
            native, spark = self.native.sync(partition=batch), self.spark.sync(partition=batch)
            if self.syncs > 1 and not self.spark.config.tables[0].metadata_columns:
                assert spark.engine == "spark", spark.engine_note
            assert [getattr(spark, c) for c in COUNTED] == [getattr(native, c) for c in COUNTED]
            for key in self.synced_active - self.live:
                purged = self.last_purge is not None and self.created[key] < self.last_purge
                self.expected_flag[key] = "PURGE" if purged else "DELETE"
            for key in self.live:
                self.expected_flag.pop(key, None)
            self.synced_active = set(self.live)

        @invariant()
        def engines_agree(self) -> None:
            if not self.syncs:
                return
            spark = self.spark.bronze()
            assert spark.to_pylist() == self.native.bronze().to_pylist()
            assert_bronze_invariants(spark, "id", self.synced_active, self.expected_flag)

        def teardown(self) -> None:
            self.native.close()
            self.spark.close()
            self.src.execute(f"DROP TABLE {self.src.source}")

    return EngineTwins


@pytest.mark.slow
def test_spark_and_native_engines_write_the_same_bronze(
    pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote
):
    machine = machine_class(pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote)
    run_state_machine(machine, "BRONZE_SYNC_ENGINE_PROPERTY", examples=10, steps=14)


@pytest.mark.slow
def test_spark_and_native_engines_stamp_the_same_row_metadata(
    pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote
):
    machine = machine_class(
        pg_engine,
        pg_schema,
        make_config,
        harness_for,
        tmp_path,
        sail_remote,
        metadata_columns=list(METADATA_TYPES),
    )
    run_state_machine(machine, "BRONZE_SYNC_ENGINE_PROPERTY", examples=6, steps=14)
