"""History tables are vacuumed, compacted and trimmed by retention with their bronze table."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

import bronze_sync.maintenance.run as maintenance_run
from bronze_sync.bronze.commit import commit_fields
from bronze_sync.bronze.lease import HELD, read_lease
from bronze_sync.checkpoints import CheckpointType, create_checkpoint
from bronze_sync.history.columns import history_uri
from bronze_sync.history.store import Coverage, read_coverage
from bronze_sync.maintenance import MaintenanceRequest, TableOutcome, run_maintenance
from bronze_sync.maintenance.history import maintain_history
from bronze_sync.maintenance.storage import list_files
from bronze_sync.metadata.schemas import STORAGE_HISTORY, SYNC_AUDIT_LOG
from bronze_sync.validation import evaluate_table
from bronze_sync_tests.helpers import PgTable

WALL = dt.datetime.now(dt.UTC).replace(microsecond=0)  # the fixed wall clock of maintenance
RUN_NOW = WALL  # the maintenance run's own clock (audit, checkpoints)
SHORT = {"vacuum_retention_hours": 0, "allow_short_retention": True}


def synced(pg_engine, pg_schema, make_config, harness_for, *names: str, **settings: Any) -> Any:
    """Sync `names` (default account) four times with changes: history versions 0..3."""
    names = names or ("account",)
    sources = [PgTable(pg_engine, pg_schema, n) for n in names]
    defaults = settings.pop("defaults", None)
    extra = {"defaults": defaults} if defaults else {}
    h = harness_for(make_config([s.config(**SHORT, **settings) for s in sources], **extra))
    for source in sources:
        source.insert_ids(f"{i:03d}" for i in range(10))
    for step in range(4):
        for source in sources:
            if step == 1:
                source.update(["000", "001"], name="one")
            elif step == 2:
                source.update(["002"], name="two")
            elif step == 3:
                source.insert_ids(["new"])
            assert h.sync(source.name).version == step
    return h


def history(h: Any, name: str = "account") -> DeltaTable:
    delta = h.store.open(history_uri(h.store, name))
    assert delta is not None
    return delta


def rows(h: Any, name: str = "account") -> list[dict[str, Any]]:
    data = history(h, name).to_pyarrow_table()
    return data.sort_by([("BronzeVersion", "ascending"), ("id", "ascending")]).to_pylist()


def backdate(h: Any, versions: range, days: int, name: str = "account") -> None:
    """Move ChangedAt of the history rows of `versions` `days` days before WALL."""
    history(h, name).update(
        new_values={"ChangedAt": WALL - dt.timedelta(days=days)},
        predicate=f'"BronzeVersion" >= {versions.start} AND "BronzeVersion" < {versions.stop}',
    )


def files(h: Any, name: str = "account") -> dict[str, Any]:
    return {f.path: (f.size, f.mtime) for f in list_files(h.store, history_uri(h.store, name))}


def outcome(summary: Any, table: str) -> TableOutcome:
    return next(o for o in summary.outcomes if o.table == table)


def op(result: TableOutcome, name: str) -> Any:
    return next(o for o in result.operations if o.operation == name)


def history_check(h: Any) -> Any:
    table = h.config.table("account")
    [result] = evaluate_table(h.store, h.meta, table, WALL, ["history_complete"])
    return result


def maintain(h: Any, **request: Any) -> Any:
    request.setdefault("include_metadata", False)
    return run_maintenance(
        h.config, h.store, MaintenanceRequest(**request), now=RUN_NOW, wall_now=WALL
    )


def test_history_table_is_vacuumed_and_compacted_with_its_rows_and_coverage_kept(
    pg_engine, pg_schema, make_config, harness_for, monkeypatch
):
    h = synced(pg_engine, pg_schema, make_config, harness_for)
    leases = []

    def under_lease(store: Any, table: Any, **kwargs: Any) -> Any:
        record = read_lease(store, table.name)
        leases.append((record.state, record.purpose) if record else None)
        return maintain_history(store, table, **kwargs)

    monkeypatch.setattr(maintenance_run, "maintain_history", under_lease)
    # An active checkpoint pinning a bronze version the history table has no such number of:
    # it blocks the bronze VACUUM, and must not reach the history table.
    create_checkpoint(h.meta, "future", CheckpointType.MANUAL, {"account": 999}, RUN_NOW, "test")
    before_rows, coverage = rows(h), read_coverage(h.store, "account")
    assert coverage == Coverage(0, 3, True)
    assert len(history(h).file_uris()) == 4

    summary = maintain(h)
    assert leases == [(HELD, "maintenance")]  # the bronze table's maintenance lease
    assert op(outcome(summary, "account"), "Vacuum").status == "Warning"
    result = outcome(summary, "history/account")
    assert result.kind == "history" and result.status == "Success", result.reasons()
    assert [o.operation for o in result.operations] == ["Vacuum", "Optimize", "LogCleanup"]
    vacuum = op(result, "Vacuum")
    assert "strategy=retention; kept_versions=[]" in vacuum.notes()
    optimize = op(result, "Optimize")
    assert (optimize.files_removed, optimize.files_added) == (4, 1)
    assert len(history(h).file_uris()) == 1
    assert rows(h) == before_rows
    assert read_coverage(h.store, "account") == coverage

    # The next run's VACUUM (0 h retention) removes the files compaction replaced.
    again = outcome(maintain(h), "history/account")
    assert op(again, "Vacuum").files_removed == 4 and again.after.bytes < again.before.bytes
    assert rows(h) == before_rows and read_coverage(h.store, "account") == coverage

    audit = h.meta.read(SYNC_AUDIT_LOG).to_pylist()
    mine = [r for r in audit if r["TableName"] == "history/account"]
    assert {r["Operation"] for r in mine} == {"Vacuum", "Optimize", "LogCleanup"}
    assert all("history table of account" in r["Notes"] for r in mine)
    # The versions audited under the bronze name stay bronze's own (sync recovery reads them).
    assert max(r["DeltaVersion"] or 0 for r in mine) > h.delta("account").version()
    bronze = [r["DeltaVersion"] for r in audit if r["TableName"] == "account"]
    assert max(v for v in bronze if v is not None) <= h.delta("account").version()
    storage = h.meta.read(STORAGE_HISTORY).to_pylist()
    assert {(r["TableName"], r["TableKind"]) for r in storage} == {
        ("account", "bronze"),
        ("history/account", "history"),
    }
    # Maintenance's own bronze commits change no row: the next sync records them, empty.
    latest = h.sync("account").version
    assert latest == h.delta("account").version()
    assert read_coverage(h.store, "account") == Coverage(0, latest, True)
    assert history_check(h).passed, history_check(h).message


def test_retention_deletes_only_old_versions_and_moves_history_from(
    pg_engine, pg_schema, make_config, harness_for
):
    h = synced(
        pg_engine, pg_schema, make_config, harness_for, defaults={"history_retention_days": 30}
    )
    assert h.config.table("account").history_retention_days == 30
    backdate(h, range(0, 2), days=40)  # versions 0 and 1: older than 30 days
    backdate(h, range(2, 3), days=20)
    kept = [r for r in rows(h) if r["BronzeVersion"] >= 2]
    old = len(rows(h)) - len(kept)
    assert old == 12  # 10 inserts, then 2 updates

    summary = maintain(h)
    result = outcome(summary, "history/account")
    assert result.status == "Success", result.reasons()
    assert result.operations[0].operation == "HistoryRetention"
    retention = op(result, "HistoryRetention")
    assert retention.rows_deleted == old
    assert "history_from 0 -> 2" in retention.notes()
    assert rows(h) == kept
    assert read_coverage(h.store, "account") == Coverage(2, 3, True)
    newest = next(
        commit_fields(e) for e in history(h).history() if "history_reason" in commit_fields(e)
    )
    assert newest["history_reason"] == "retention" and newest["history_settled"] == "true"
    assert [e["operation"] for e in history(h).history(10)].count("DELETE") == 1

    audit = [
        r for r in h.meta.read(SYNC_AUDIT_LOG).to_pylist() if r["Operation"] == "HistoryRetention"
    ]
    assert [(r["TableName"], r["RowsDeleted"], r["Status"]) for r in audit] == [
        ("history/account", old, "Success")
    ]

    # Nothing older is left: the next run deletes nothing and commits nothing for it.
    version = history(h).version()
    quiet = op(outcome(maintain(h, tables=["account"]), "history/account"), "HistoryRetention")
    assert quiet.rows_deleted == 0 and not quiet.versions
    assert history(h).version() >= version
    latest = h.sync("account").version
    assert read_coverage(h.store, "account") == Coverage(2, latest, True)
    check = history_check(h)
    assert check.passed and f"history holds versions 2..{latest}" in check.message, check.message


def test_retention_of_every_row_leaves_an_empty_range_after_through(
    pg_engine, pg_schema, make_config, harness_for
):
    h = synced(pg_engine, pg_schema, make_config, harness_for, history_retention_days=7)
    backdate(h, range(0, 4), days=8)
    result = outcome(maintain(h), "history/account")
    assert op(result, "HistoryRetention").rows_deleted == 14
    assert rows(h) == []
    assert read_coverage(h.store, "account") == Coverage(4, 3, True)
    latest = h.sync("account").version  # maintenance's bronze commits: no history rows
    assert read_coverage(h.store, "account") == Coverage(4, latest, True) and rows(h) == []


def test_dry_run_reports_the_history_rows_and_changes_nothing(
    pg_engine, pg_schema, make_config, harness_for
):
    h = synced(pg_engine, pg_schema, make_config, harness_for, history_retention_days=30)
    backdate(h, range(0, 2), days=40)
    before, version = files(h), history(h).version()
    audit_rows = h.meta.read(SYNC_AUDIT_LOG).num_rows

    summary = maintain(h, dry_run=True)
    result = outcome(summary, "history/account")
    retention = op(result, "HistoryRetention")
    assert retention.rows_deleted == 12 and "would delete 12 history row(s)" in retention.notes()
    # four appends, the first two rewritten into one file by the backdating
    assert "would compact 3 small file(s)" in op(result, "Optimize").notes()
    assert files(h) == before and history(h).version() == version
    assert read_coverage(h.store, "account") == Coverage(0, 3, True)
    assert h.meta.read(SYNC_AUDIT_LOG).num_rows == audit_rows
    assert "history/account [history]" in summary.to_text()
    assert "| history/account | history |" in summary.to_markdown()


def test_table_without_history_is_skipped(pg_engine, pg_schema, make_config, harness_for):
    h = synced(pg_engine, pg_schema, make_config, harness_for, "account", "contact")
    shutil.rmtree(Path(history_uri(h.store, "contact")))
    summary = maintain(h)
    tables = {o.table: o for o in summary.outcomes}
    assert set(tables) == {"account", "history/account", "contact"}
    assert tables["contact"].status == "Success" and tables["history/account"].status == "Success"


def test_history_settings_follow_the_bronze_table(pg_engine, pg_schema, make_config, harness_for):
    h = synced(
        pg_engine, pg_schema, make_config, harness_for, enable_vacuum=False, enable_optimize=False
    )
    result = outcome(maintain(h), "history/account")
    statuses = {o.operation: o.status for o in result.operations}
    assert statuses == {"Vacuum": "Skipped", "Optimize": "Skipped", "LogCleanup": "Success"}
    assert len(history(h).file_uris()) == 4
    assert pa.table(history(h).get_add_actions(flatten=True)).num_rows == 4
