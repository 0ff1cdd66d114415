"""Property test (kind static): random reference-table edits and syncs against a model.

The model follows ARCHITECTURE §9, not the engine. In `replace` mode bronze mirrors each
snapshot (vanished rows flagged IsDeleted, reappearing ones undeleted); in `upsert` mode rows
are inserted and updated but never flagged. A sync whose source content equals the content
of the previous sync (whatever was written in between: a value set to itself, rows deleted
and re-inserted in another order) reads nothing, commits nothing and is audited `Skipped`;
any other sync commits once when bronze changes and not at all when it does not.
"""

from __future__ import annotations

import uuid

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

from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync.sync import run_table_sync
from bronze_sync_tests.stateful import run_state_machine

CODES = st.sampled_from([f"C{i:02d}" for i in range(12)])
NAMES = st.sampled_from(["Euro", "Dollar", "Pound"])  # few names: edits often restore one

# Model of one bronze row: (name, IsDeleted, SyncOperation).
Row = tuple[str, bool, str]


def synced(held: dict[str, Row], source: dict[str, str], mode: str) -> dict[str, Row]:
    """Return what bronze holds after a sync that reads `source` in `mode`."""
    after = dict(held)
    if mode == "replace":
        for code, (name, deleted, _op) in held.items():
            if code not in source and not deleted:
                after[code] = (name, True, "DELETE")
    for code, name in source.items():
        before = held.get(code)
        if before is None:
            after[code] = (name, False, "INSERT")
        elif before[1]:
            after[code] = (name, False, "UNDELETE")
        elif before[0] != name:
            after[code] = (name, False, "UPDATE")
    return after


class CodeTable:
    """The reference source table: a code and its name."""

    def __init__(self, engine: sa.Engine, schema: str, name: str) -> None:
        self.engine = engine
        self.source = f"{schema}.{name}"
        self.table = sa.Table(
            name,
            sa.MetaData(schema=schema),
            sa.Column("code", sa.Text, primary_key=True),
            sa.Column("name", sa.Text),
        )
        self.table.create(engine)

    def run(self, *stmts: sa.Executable) -> None:
        """Execute changes in one transaction."""
        with self.engine.begin() as conn:
            for stmt in stmts:
                conn.execute(stmt)

    def drop(self) -> None:
        """Drop the table (one per example)."""
        self.table.drop(self.engine)


def machine_class(engine: sa.Engine, schema: str, make_config, harness_for, tmp_path, mode):
    class StaticMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            name = f"r_{uuid.uuid4().hex[:8]}"
            self.src = CodeTable(engine, schema, name)
            entry = {
                "name": name,
                "source": self.src.source,
                "kind": "static",
                "primary_key": "code",
                "static_mode": mode,
                "max_delete_fraction": 1,
            }
            config = make_config([entry], bronze={"path": str(tmp_path / name)})
            self.h = harness_for(config)
            self.table = config.tables[0]
            self.source: dict[str, str] = {}
            self.bronze: dict[str, Row] | None = None  # None: never synced
            self.synced_source: dict[str, str] = {}  # the source content of the last sync
            self.version = -1

        # ---- source changes -------------------------------------------------------------
        @initialize(rows=st.dictionaries(CODES, NAMES, min_size=1, max_size=4))
        def seed(self, rows: dict[str, str]) -> None:
            self.src.run(
                self.src.table.insert().values([{"code": c, "name": n} for c, n in rows.items()])
            )
            self.source.update(rows)

        @rule(code=CODES, name=NAMES)
        def insert_or_change(self, code: str, name: str) -> None:
            t = self.src.table
            if code in self.source:  # possibly to the name it has: no content change
                self.src.run(t.update().where(t.c.code == code).values(name=name))
            else:
                self.src.run(t.insert().values(code=code, name=name))
            self.source[code] = name

        @precondition(lambda self: self.source)
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            code = data.draw(st.sampled_from(sorted(self.source)))
            self.src.run(self.src.table.delete().where(self.src.table.c.code == code))
            del self.source[code]

        @precondition(lambda self: self.source)
        @rule()
        def reinsert_everything_in_reverse(self) -> None:
            """Write every row again, in another physical order: the content is unchanged."""
            t = self.src.table
            rows = [{"code": c, "name": n} for c, n in sorted(self.source.items(), reverse=True)]
            self.src.run(t.delete(), t.insert().values(rows))

        # ---- syncs ------------------------------------------------------------------------
        @rule()
        def sync(self) -> None:
            first = self.bronze is None
            skip = not first and self.source == self.synced_source
            job = self.h.job()
            result = run_table_sync(job, self.table)
            before = self.bronze or {}
            after = before if skip else synced(before, self.source, mode)
            version = self.h.delta().version()
            audit = [
                r
                for r in self.h.meta.rows(SYNC_AUDIT_LOG)
                if r["PipelineRunId"] == job.run.run_id and r["Operation"] == "DataSync"
            ]
            if first:
                assert (result.mode, version) == ("initial", 0)
            elif skip:
                assert result.mode == "skipped", "an unchanged source was read again"
                assert version == self.version  # nothing committed
                assert [r["Status"] for r in audit] == ["Skipped"]
                assert "unchanged" in (audit[0]["Notes"] or "")
            else:
                assert result.mode != "skipped", "a changed source was skipped"
                assert version == self.version + (1 if after != before else 0)
                assert [r["Status"] for r in audit] == ["Success"]
            self.bronze, self.version = after, version
            self.synced_source = dict(self.source)

        # ---- invariants -------------------------------------------------------------------
        @invariant()
        def bronze_matches_model(self) -> None:
            if self.bronze is None:
                return
            got = {}
            for row in self.h.bronze().to_pylist():
                assert row["IsPurged"] is False
                assert (row["DeletedDate"] is not None) == row["IsDeleted"]
                got[row["code"]] = (row["name"], row["IsDeleted"], row["SyncOperation"])
            assert got == self.bronze

        def teardown(self) -> None:
            self.h.close()  # one pool per example would exhaust PostgreSQL's connections
            self.src.drop()

    return StaticMachine


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["replace", "upsert"])
def test_static_bronze_follows_the_model_for_random_histories(
    pg_engine, pg_schema, make_config, harness_for, tmp_path, mode
):
    machine = machine_class(pg_engine, pg_schema, make_config, harness_for, tmp_path, mode)
    run_state_machine(machine, "BRONZE_SYNC_KIND_PROPERTY", examples=15)
