"""Property test (kind partitioned): random slices, edits, daily syncs and reloads vs a model.

The model follows ARCHITECTURE §9, not the engine: a daily sync loads the source's values
above the highest one loaded (the first sync only the newest `initial_partitions`); loading
value V makes bronze hold every source row of V (new rows inserted, changed rows updated,
vanished rows flagged IsDeleted as no purge is recorded, reappearing rows undeleted) and
leaves every other value, and its files, untouched. A sync that changes a row writes exactly
one Delta commit; one that changes nothing writes none.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import hypothesis.strategies as st
import pyarrow as pa
import pytest
import sqlalchemy as sa
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from bronze_sync.sync import SyncResult, run_table_sync
from bronze_sync_tests.stateful import run_state_machine

COBID_START = 20260101
COBIDS = st.integers(min_value=0, max_value=15).map(lambda day: COBID_START + day)
QTYS = st.decimals(min_value=-(10**6), max_value=10**6, places=4, allow_nan=False)
INITIAL_PARTITIONS = 2
SLICE_ROWS = st.lists(QTYS, min_size=1, max_size=4)

# Model of one bronze row: (qty, IsDeleted, SyncOperation); of a slice: id -> row.
Row = tuple[Decimal, bool, str]
Slice = dict[int, Row]


def load_slice(held: Slice, source: dict[int, Decimal]) -> Slice:
    """Return what bronze holds for one value after it is (re)loaded from `source`."""
    loaded: Slice = {}
    for row_id, (qty, deleted, op) in held.items():
        # A vanished row keeps its last values and is flagged (once).
        loaded[row_id] = (qty, True, op if deleted else "DELETE")
    for row_id, qty in source.items():
        before = held.get(row_id)
        if before is None:
            loaded[row_id] = (qty, False, "INSERT")
        elif before[1]:
            loaded[row_id] = (qty, False, "UNDELETE")
        elif before[0] != qty:
            loaded[row_id] = (qty, False, "UPDATE")
        else:
            loaded[row_id] = before
    return loaded


class SliceTable:
    """The source table: (id, cobid) primary key, a numeric quantity."""

    def __init__(self, engine: sa.Engine, schema: str, name: str) -> None:
        self.engine, self.name = engine, name
        self.source = f"{schema}.{name}"
        self.table = sa.Table(
            name,
            sa.MetaData(schema=schema),
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("cobid", sa.Integer, primary_key=True),
            sa.Column("qty", sa.Numeric(18, 4)),
        )
        self.table.create(engine)

    def run(self, stmt: Any) -> None:
        """Execute one change in its own transaction."""
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def drop(self) -> None:
        """Drop the table (one per example)."""
        self.table.drop(self.engine)


def machine_class(engine: sa.Engine, schema: str, make_config, harness_for, tmp_path):
    class PartitionedMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            name = f"p_{uuid.uuid4().hex[:8]}"
            self.src = SliceTable(engine, schema, name)
            entry = {
                "name": name,
                "source": self.src.source,
                "kind": "partitioned",
                "primary_key": ["id", "cobid"],
                "partition_column": "cobid",
                "initial_partitions": INITIAL_PARTITIONS,
                "max_delete_fraction": 1,
            }
            config = make_config([entry], bronze={"path": str(tmp_path / name)})
            self.h = harness_for(config)
            self.table = config.tables[0]
            self.source: dict[int, dict[int, Decimal]] = {}  # cobid -> id -> qty
            self.bronze: dict[int, Slice] | None = None  # None: never synced
            self.version: int | None = None

        # ---- source changes -------------------------------------------------------------
        @initialize(slices=st.dictionaries(COBIDS, SLICE_ROWS, min_size=1, max_size=4))
        def history(self, slices: dict[int, list[Decimal]]) -> None:
            for cobid, qtys in slices.items():
                self._add(cobid, qtys)

        @precondition(lambda self: len(self.source) < 16)
        @rule(data=st.data(), qtys=SLICE_ROWS)
        def add_slice(self, data: st.DataObject, qtys: list[Decimal]) -> None:
            top = max([*self.source, *(self.bronze or {})], default=COBID_START)
            # Mostly the next COBIDs (a daily sync loads them), sometimes a backdated slice.
            fresh = st.one_of(st.integers(1, 3).map(lambda step: top + step), COBIDS)
            self._add(data.draw(fresh.filter(lambda v: v not in self.source)), qtys)

        def _add(self, cobid: int, qtys: list[Decimal]) -> None:
            rows = {i: q for i, q in enumerate(qtys, start=1)}
            self.src.run(
                self.src.table.insert().values(
                    [{"id": i, "cobid": cobid, "qty": q} for i, q in rows.items()]
                )
            )
            self.source[cobid] = rows

        @precondition(lambda self: self.source)
        @rule(data=st.data(), qty=QTYS)
        def insert_row(self, data: st.DataObject, qty: Decimal) -> None:
            cobid = data.draw(st.sampled_from(sorted(self.source)))
            row_id = max(self.source[cobid], default=0) + 1
            self.src.run(self.src.table.insert().values(id=row_id, cobid=cobid, qty=qty))
            self.source[cobid][row_id] = qty

        @precondition(lambda self: any(self.source.values()))
        @rule(data=st.data(), qty=QTYS)
        def update_row(self, data: st.DataObject, qty: Decimal) -> None:
            cobid, row_id = data.draw(st.sampled_from(self._source_keys()))
            t = self.src.table
            where = sa.and_(t.c.id == row_id, t.c.cobid == cobid)
            self.src.run(t.update().where(where).values(qty=qty))
            self.source[cobid][row_id] = qty

        @precondition(lambda self: any(self.source.values()))
        @rule(data=st.data())
        def delete_row(self, data: st.DataObject) -> None:
            cobid, row_id = data.draw(st.sampled_from(self._source_keys()))
            t = self.src.table
            self.src.run(t.delete().where(sa.and_(t.c.id == row_id, t.c.cobid == cobid)))
            del self.source[cobid][row_id]
            if not self.source[cobid]:
                del self.source[cobid]

        @precondition(lambda self: self.source)
        @rule(data=st.data())
        def delete_slice(self, data: st.DataObject) -> None:
            cobid = data.draw(st.sampled_from(sorted(self.source)))
            self.src.run(self.src.table.delete().where(self.src.table.c.cobid == cobid))
            del self.source[cobid]

        def _source_keys(self) -> list[tuple[int, int]]:
            return sorted((c, i) for c, rows in self.source.items() for i in rows)

        # ---- syncs ------------------------------------------------------------------------
        @rule()
        def daily_sync(self) -> None:
            held = self.bronze or {}
            if held:
                values = [v for v in sorted(self.source) if v > max(held)]
            else:
                values = sorted(self.source)[-INITIAL_PARTITIONS:]
            first = self.version is None
            result = self._synced(values, lambda: self.h.sync())
            if not first and not values:
                assert result.mode == "skipped", result.skip_reason
            assert result.partition_values == [str(v) for v in values]

        @precondition(lambda self: self.bronze is not None and (self.bronze or self.source))
        @rule(data=st.data())
        def reload(self, data: st.DataObject) -> None:
            known = sorted(set(self.bronze or {}) | set(self.source))
            values = sorted(data.draw(st.sets(st.sampled_from(known), min_size=1, max_size=3)))
            job = self.h.job()
            job.partition_values = tuple(values)
            result = self._synced(values, lambda: run_table_sync(job, self.table))
            assert result.partition_values == [str(v) for v in values]

        def _synced(self, values: list[int], sync: Callable[[], SyncResult]) -> SyncResult:
            """Run `sync`, apply the model's loads of `values`, and check the commit count."""
            before = {v: dict(rows) for v, rows in (self.bronze or {}).items()}
            files_before = self._files_by_value() if self.bronze is not None else {}
            result = sync()
            after = dict(before)
            for value in values:
                after[value] = load_slice(before.get(value, {}), self.source.get(value, {}))
            after = {v: rows for v, rows in after.items() if rows}
            version = self.h.delta().version()
            if self.version is None:
                assert version == 0  # the first sync creates the table in one commit
            else:
                expected = self.version + (1 if after != before else 0)
                assert version == expected, (values, self.version, version)
                files_after = self._files_by_value()
                for value in set(before) - set(values):  # untouched values keep their files
                    assert files_after.get(value) == files_before.get(value), value
            self.bronze, self.version = after, version
            return result

        def _files_by_value(self) -> dict[int, set[str]]:
            files: dict[int, set[str]] = {}
            actions = pa.table(self.h.delta().get_add_actions(flatten=True))
            for path in actions.column("path").to_pylist():
                folder = path.split("/", 1)[0]
                assert folder.startswith("cobid="), path  # Delta-partitioned by cobid
                files.setdefault(int(folder.removeprefix("cobid=")), set()).add(path)
            return files

        # ---- invariants -------------------------------------------------------------------
        @invariant()
        def bronze_matches_model(self) -> None:
            if self.bronze is None:
                return
            got: dict[int, Slice] = {}
            for row in self.h.bronze().to_pylist():
                assert row["IsPurged"] is False and row["PurgedDate"] is None
                assert (row["DeletedDate"] is not None) == row["IsDeleted"]
                got.setdefault(row["cobid"], {})[row["id"]] = (
                    row["qty"],
                    row["IsDeleted"],
                    row["SyncOperation"],
                )
            assert got == self.bronze

        @invariant()
        def bronze_is_partitioned_by_cobid(self) -> None:
            if self.bronze is None:
                return
            delta = self.h.delta()
            assert delta.metadata().partition_columns == ["cobid"]
            assert set(self._files_by_value()) == set(self.bronze)

        def teardown(self) -> None:
            self.h.close()  # one pool per example would exhaust PostgreSQL's connections
            self.src.drop()

    return PartitionedMachine


@pytest.mark.slow
def test_partitioned_bronze_follows_the_model_for_random_histories(
    pg_engine, pg_schema, make_config, harness_for, tmp_path
):
    machine = machine_class(pg_engine, pg_schema, make_config, harness_for, tmp_path)
    run_state_machine(machine, "BRONZE_SYNC_KIND_PROPERTY", examples=15)
