"""Property test (kind scd2): random version arrivals and syncs against a model of bronze.

The model follows ARCHITECTURE §9, not the engine. The source is a real SCD2 table: a new
version of a business key is inserted as latest and the old latest version's flag is cleared
WITHOUT touching its modified time. New versions may arrive late (modified before what bronze
already holds, as long transactions commit). The first sync loads the versions modified in
the last `initial_load_days` plus every latest one; every later sync adds every version
modified since that window's start. After each sync bronze holds exactly those versions,
none flagged deleted, each with the source's latest flag and name: one latest version per
business key.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import hypothesis.strategies as st
import pytest
import sqlalchemy as sa
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from bronze_sync_tests.helpers import NOW
from bronze_sync_tests.stateful import run_state_machine

INITIAL_LOAD_DAYS = 7
MINUTE = dt.timedelta(minutes=1)
# A key's history before the first sync: versions up to three windows old.
HISTORY = st.lists(
    st.integers(min_value=0, max_value=3 * INITIAL_LOAD_DAYS * 24 * 60),
    min_size=1,
    max_size=3,
    unique=True,
)
# How long before "now" a version says it was modified (a late commit); under three days,
# so it is always inside the first sync's window.
LATENESS = st.integers(min_value=0, max_value=3 * 24 * 60)
GAP = st.integers(min_value=1, max_value=2 * 24 * 60)  # minutes between events

Version = tuple[str, dt.datetime]  # (cid, lastmodified): the primary key


class VersionTable:
    """The SCD2 source table: every version of a business key, one flagged latest."""

    def __init__(self, engine: sa.Engine, schema: str, name: str) -> None:
        self.engine = engine
        self.source = f"{schema}.{name}"
        self.table = sa.Table(
            name,
            sa.MetaData(schema=schema),
            sa.Column("cid", sa.Text, primary_key=True),
            sa.Column("lastmodified", sa.DateTime(timezone=True), primary_key=True),
            sa.Column("islatest", sa.Boolean, nullable=False),
            sa.Column("name", sa.Text),
        )
        self.table.create(engine)

    def add_version(self, cid: str, modified: dt.datetime, name: str) -> None:
        """Insert a latest version and clear the older latest one, as an SCD2 loader does."""
        t = self.table
        with self.engine.begin() as conn:
            # The old version's modified time stays: only its flag changes.
            conn.execute(t.update().where(t.c.cid == cid).values(islatest=False))
            conn.execute(
                t.insert().values(cid=cid, lastmodified=modified, islatest=True, name=name)
            )

    def add_history(self, cid: str, stamps: list[dt.datetime]) -> None:
        """Insert a key with several versions at once, the newest one latest."""
        rows = [
            {"cid": cid, "lastmodified": s, "islatest": s == max(stamps), "name": f"{cid}@{i}"}
            for i, s in enumerate(sorted(stamps))
        ]
        with self.engine.begin() as conn:
            conn.execute(self.table.insert(), rows)

    def drop(self) -> None:
        """Drop the table (one per example)."""
        self.table.drop(self.engine)


def machine_class(engine: sa.Engine, schema: str, make_config, harness_for, tmp_path):
    class Scd2Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            name = f"s_{uuid.uuid4().hex[:8]}"
            self.src = VersionTable(engine, schema, name)
            entry = {
                "name": name,
                "source": self.src.source,
                "kind": "scd2",
                "primary_key": ["cid", "lastmodified"],
                "business_key": "cid",
                "modified_column": "lastmodified",
                "latest_column": "islatest",
                "initial_load_days": INITIAL_LOAD_DAYS,
                "max_delete_fraction": 1,
            }
            config = make_config([entry], bronze={"path": str(tmp_path / name)})
            self.h = harness_for(config)
            self.now = NOW
            self.source: dict[Version, tuple[bool, str]] = {}  # -> (islatest, name)
            self.loaded_from: dt.datetime | None = None  # None: never synced
            self.expected: dict[Version, tuple[bool, str]] = {}  # bronze after the last sync
            self.keys = 0

        def _new_cid(self) -> str:
            self.keys += 1
            return f"c{self.keys:03d}"

        def _latest(self, cid: str) -> dt.datetime:
            return max(m for c, m in self.source if c == cid)

        # ---- source changes -------------------------------------------------------------
        @initialize(histories=st.lists(HISTORY, min_size=1, max_size=4))
        def history(self, histories: list[list[int]]) -> None:
            for ages in histories:
                self._add_history(ages)

        @rule(ages=HISTORY, lateness=LATENESS)
        def new_business_key(self, ages: list[int], lateness: int) -> None:
            if self.loaded_from is None:
                self._add_history(ages)  # before the first sync: any history
            else:
                cid = self._new_cid()
                self._add_version(cid, self.now - lateness * MINUTE)

        @precondition(lambda self: self.source)
        @rule(data=st.data(), gap=GAP, lateness=LATENESS)
        def new_version(self, data: st.DataObject, gap: int, lateness: int) -> None:
            cid = data.draw(st.sampled_from(sorted({c for c, _ in self.source})))
            self.now += gap * MINUTE
            stamp = max(self.now - lateness * MINUTE, self._latest(cid) + dt.timedelta(seconds=1))
            self._add_version(cid, stamp)

        def _add_history(self, ages: list[int]) -> None:
            cid = self._new_cid()
            stamps = [self.now - age * MINUTE for age in ages]
            self.src.add_history(cid, stamps)
            for i, stamp in enumerate(sorted(stamps)):
                self.source[(cid, stamp)] = (stamp == max(stamps), f"{cid}@{i}")

        def _add_version(self, cid: str, stamp: dt.datetime) -> None:
            name = f"{cid}@{stamp.isoformat()}"
            self.src.add_version(cid, stamp, name)
            for key, (_, old_name) in list(self.source.items()):
                if key[0] == cid:
                    self.source[key] = (False, old_name)
            self.source[(cid, stamp)] = (True, name)

        # ---- syncs ------------------------------------------------------------------------
        # In-memory and spilled diffs read the latest flags differently: both must hold.
        @rule(gap=GAP, parts=st.sampled_from([None, 2]))
        def sync(self, gap: int, parts: int | None) -> None:
            self.now += gap * MINUTE
            self.h.now = self.now
            self.h.sync(diff_partitions=parts)
            if self.loaded_from is None:
                self.loaded_from = self.now - dt.timedelta(days=INITIAL_LOAD_DAYS)
                window = {
                    k
                    for k, (latest, _) in self.source.items()
                    if latest or k[1] >= self.loaded_from
                }
            else:
                window = set(self.expected) | {k for k in self.source if k[1] >= self.loaded_from}
            self.expected = {k: self.source[k] for k in window}

        # ---- invariants -------------------------------------------------------------------
        @invariant()
        def bronze_holds_the_model_versions(self) -> None:
            if self.loaded_from is None:
                return
            rows = self.h.bronze().to_pylist()
            latest = Counter(r["cid"] for r in rows if r["islatest"])
            keys = {r["cid"] for r in rows}
            assert {k: latest.get(k, 0) for k in keys} == dict.fromkeys(keys, 1), "latest"
            assert not any(r["IsDeleted"] or r["IsPurged"] for r in rows)
            got = {(r["cid"], r["lastmodified"]): (r["islatest"], r["name"]) for r in rows}
            assert set(self.expected) - set(got) == set(), "versions lost"
            assert set(got) - set(self.expected) == set(), "versions outside the window"
            assert got == self.expected

        def teardown(self) -> None:
            self.h.close()  # one pool per example would exhaust PostgreSQL's connections
            self.src.drop()

    return Scd2Machine


@pytest.mark.slow
def test_scd2_bronze_follows_the_model_for_random_histories(
    pg_engine, pg_schema, make_config, harness_for, tmp_path
):
    machine = machine_class(pg_engine, pg_schema, make_config, harness_for, tmp_path)
    run_state_machine(machine, "BRONZE_SYNC_KIND_PROPERTY", examples=15)
