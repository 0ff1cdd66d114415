"""Property test against the emulator: random Dataverse histories keep the sync invariants.

The SQL property test's invariants, with Dataverse's own ways for rows to vanish: deletes
(`$deletedEntity`), long-term retention (msft_datastate = 1, then removed: PURGE), recorded
age purges, and expired change tokens (full read fallback).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import hypothesis.strategies as st
import pyarrow.compute as pc
import pytest
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bronze_sync.metadata.pipeline_config import record_purge
from bronze_sync.testing.dataverse.demo import account_entity
from bronze_sync_tests.dataverse import account_row, dataverse_config
from bronze_sync_tests.helpers import NOW, assert_bronze_invariants
from bronze_sync_tests.stateful import run_state_machine

DAYS = st.integers(min_value=0, max_value=8 * 365)
MONEY = st.decimals(min_value=-(10**14), max_value=10**14, places=4, allow_nan=False)


def machine_class(emulator, harness_for, tmp_path):
    class DataverseMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            emulator.add_entity(account_entity())  # a fresh, empty entity per example
            self.h = harness_for(dataverse_config(emulator, tmp_path / uuid.uuid4().hex[:8]))
            self.created: dict[str, dt.datetime] = {}
            self.live: set[str] = set()
            self.retained: set[str] = set()  # live rows with msft_datastate = 1
            self.bronze_retained: set[str] = set()  # as bronze last saw them
            self.synced_active: set[str] = set()
            self.expected_flag: dict[str, str] = {}
            self.last_purge: dt.datetime | None = None
            self.counter = 0
            self.synced = self.fresh = False

        def _key(self) -> str:
            self.counter += 1
            return str(uuid.UUID(int=self.counter))

        @rule(age=DAYS, revenue=MONEY)
        def insert(self, age: int, revenue: Decimal) -> None:
            self.fresh = False
            key, created = self._key(), NOW - dt.timedelta(days=age)
            emulator.insert("account", [account_row(0, created, accountid=key, revenue=revenue)])
            self.created[key] = created
            self.live.add(key)

        @precondition(lambda self: any(k not in self.live for k in self.created))
        @rule(data=st.data())
        def reinsert(self, data: st.DataObject) -> None:
            self.fresh = False
            key = data.draw(st.sampled_from(sorted(k for k in self.created if k not in self.live)))
            emulator.insert("account", [account_row(0, self.created[key], accountid=key)])
            self.live.add(key)

        @precondition(lambda self: self.live)
        @rule(data=st.data(), revenue=MONEY)
        def update(self, data: st.DataObject, revenue: Decimal) -> None:
            self.fresh = False
            key = data.draw(st.sampled_from(sorted(self.live)))
            emulator.update("account", key, revenue=revenue, name=f"v{self.counter}")
            self.counter += 1

        @precondition(lambda self: self.live)
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            self.fresh = False
            key = data.draw(st.sampled_from(sorted(self.live)))
            emulator.delete("account", [key])
            self.live.discard(key)
            self.retained.discard(key)

        @precondition(lambda self: self.live)
        @rule(data=st.data())
        def retain(self, data: st.DataObject) -> None:
            self.fresh = False
            key = data.draw(st.sampled_from(sorted(self.live)))
            emulator.retain("account", [key])
            self.retained.add(key)

        @rule()
        def remove_retained(self) -> None:
            self.fresh = False
            emulator.remove_retained("account")
            self.live -= self.retained
            self.retained = set()

        @rule(age=DAYS)
        def age_purge(self, age: int) -> None:
            self.fresh = False
            cutoff = NOW - dt.timedelta(days=age)
            gone = [k for k in self.live if self.created[k] < cutoff]
            emulator.delete("account", gone)
            self.live -= set(gone)
            self.retained -= set(gone)
            record_purge(self.h.meta, self.h.config.tables[0], cutoff, NOW)
            self.last_purge = cutoff

        @rule()
        def expire_token(self) -> None:
            emulator.expire_change_tokens("account")

        # Change feeds and retained keys must plan the same in key partitions.
        @rule(parts=st.sampled_from([None, 4]))
        def sync(self, parts: int | None) -> None:
            self.h.sync(diff_partitions=parts)
            for key in self.synced_active - self.live:
                by_age = self.last_purge is not None and self.created[key] < self.last_purge
                purged = by_age or key in self.bronze_retained
                self.expected_flag[key] = "PURGE" if purged else "DELETE"
            for key in self.live:
                self.expected_flag.pop(key, None)
            self.bronze_retained = (self.bronze_retained - self.live) | self.retained
            self.synced_active = set(self.live)
            self.synced = self.fresh = True

        @invariant()
        def bronze_matches_source(self) -> None:
            if not self.synced:
                return
            assert_bronze_invariants(
                self.h.bronze(), "accountid", self.synced_active, self.expected_flag
            )

        @invariant()
        def active_values_equal_source(self) -> None:
            if not self.fresh:
                return
            source = {
                k: (r["name"], r["revenue"], r["msft_datastate"])
                for k, r in emulator.rows("account").items()
            }
            bronze = self.h.bronze()
            active = bronze.filter(
                pc.invert(pc.or_(bronze.column("IsDeleted"), bronze.column("IsPurged")))
            )
            got = {
                r["accountid"]: (r["name"], r["revenue"], r["msft_datastate"])
                for r in active.to_pylist()
            }
            assert got == source

    return DataverseMachine


@pytest.mark.slow
def test_sync_invariants_hold_for_random_dataverse_histories(emulator, harness_for, tmp_path):
    machine = machine_class(emulator, harness_for, tmp_path)
    run_state_machine(machine, "BRONZE_SYNC_PROPERTY", examples=15)
