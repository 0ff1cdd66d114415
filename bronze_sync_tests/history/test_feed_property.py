"""Property test: the change feed between any two versions equals Delta time travel.

Random source changes, syncs and rollbacks; then, for every pair of versions N < M,
`read_changes(since=N, until=M)` must hold exactly the rows full time travel finds changed
in each version N+1..M (images, removals), and every version's history must match.
"""

from __future__ import annotations

import uuid

import hypothesis.strategies as st
import pytest
import sqlalchemy as sa
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bronze_sync.history import read_changes
from bronze_sync.history.store import read_coverage
from bronze_sync.metadata.pipeline_config import record_purge
from bronze_sync_tests.helpers import NOW, PgTable, years_ago
from bronze_sync_tests.history.conftest import history_table, roll_back
from bronze_sync_tests.history.oracle import (
    HISTORY_ONLY,
    assert_history_matches_time_travel,
    expected_changes,
)
from bronze_sync_tests.stateful import run_state_machine

KEYS = [f"k{i}" for i in range(12)]


def machine_class(engine: sa.Engine, schema: str, make_config, harness_for, tmp_path):
    class FeedMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            name = f"t_{uuid.uuid4().hex[:8]}"
            self.src = PgTable(engine, schema, name)
            config = make_config(
                [self.src.config(name=name, max_delete_fraction=1)],
                bronze={"path": str(tmp_path / name)},
            )
            self.name = name
            self.h = harness_for(config)
            self.live: set[str] = set()
            self.counter = 0

        @rule(key=st.sampled_from(KEYS), old=st.booleans())
        def insert(self, key: str, old: bool) -> None:
            if key in self.live:
                return
            self.src.insert_ids([key], created=years_ago(3) if old else None)
            self.live.add(key)

        @precondition(lambda self: self.live)
        @rule(data=st.data())
        def update(self, data: st.DataObject) -> None:
            key = data.draw(st.sampled_from(sorted(self.live)))
            self.counter += 1
            self.src.update([key], name=f"v{self.counter}")

        @precondition(lambda self: self.live)
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            key = data.draw(st.sampled_from(sorted(self.live)))
            self.src.delete([key])
            self.live.discard(key)

        @rule()
        def purge(self) -> None:
            cutoff = years_ago(1)
            self.src.purge_before(cutoff)
            self.live = set(self.src.ids())
            record_purge(self.h.meta, self.h.config.tables[0], cutoff, NOW)

        @rule()
        def sync(self) -> None:
            self.h.sync(self.name)

        @precondition(lambda self: self.h.delta(self.name) is not None)
        @rule(data=st.data())
        def rollback(self, data: st.DataObject) -> None:
            current = self.h.delta(self.name).version()
            target = data.draw(st.integers(min_value=0, max_value=current))
            if target != current:
                roll_back(self.h, target, self.name)

        @invariant()
        def feed_equals_time_travel(self) -> None:
            delta = self.h.delta(self.name)
            if delta is None:
                return
            last = delta.version()
            coverage = read_coverage(self.h.store, self.name)
            assert coverage is not None and (coverage.first, coverage.through) == (0, last)
            uri = str(self.h.delta_dir(self.name))
            assert_history_matches_time_travel(
                uri, history_table(self.h, self.name), ["id"], 0, last
            )
            for since in range(-1, last):
                for until in range(since + 1, last + 1):
                    got = read_changes(self.h.store, self.name, since, until).read_all()
                    self._same(uri, got, since, until)

        def _same(self, uri: str, got, since: int, until: int) -> None:
            rows = got.to_pylist()
            assert {r["BronzeVersion"] for r in rows} <= set(range(since + 1, until + 1))
            for version in range(since + 1, until + 1):
                changed, removed = expected_changes(uri, version, ["id"])
                mine = [r for r in rows if r["BronzeVersion"] == version]
                assert {r["id"] for r in mine if r["RowRemoved"]} == {k[0] for k in removed}
                images = {
                    r["id"]: {k: v for k, v in r.items() if k not in HISTORY_ONLY}
                    for r in mine
                    if not r["RowRemoved"]
                }
                assert images == {k[0]: v for k, v in changed.items()}

        def teardown(self) -> None:
            self.h.close()
            self.src.execute(f"DROP TABLE {self.src.source}")

    return FeedMachine


@pytest.mark.slow
def test_change_feed_equals_time_travel_for_random_histories(
    pg_engine, pg_schema, make_config, harness_for, tmp_path
):
    machine = machine_class(pg_engine, pg_schema, make_config, harness_for, tmp_path)
    run_state_machine(machine, "BRONZE_SYNC_FEED_PROPERTY", examples=15, steps=15)
