"""VACUUM never removes a file an active checkpoint needs: it is skipped with a warning."""

from __future__ import annotations

import pytest

from bronze_sync.checkpoints import list_checkpoints
from bronze_sync.checkpoints.integrity import check_checkpoint
from bronze_sync.config import parse_config
from bronze_sync.errors import ConfigError
from bronze_sync.maintenance import MaintenanceRequest, run_maintenance
from bronze_sync.maintenance.safety import RETENTION
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync_tests.maintenance.simulation import RecordingNotifier, listing, simulate

pytestmark = pytest.mark.slow  # Dagster runs or many syncs: see conftest.SLOW_FOLDERS


def data_files(files: dict, table: str) -> set[str]:
    return {p for p in files if p.startswith(f"{table}/") and "_delta_log" not in p}


def test_retention_that_would_break_a_checkpoint_skips_vacuum(
    pg_engine, pg_schema, make_config, harness_for
):
    sim = simulate(pg_engine, pg_schema, make_config, harness_for, days=4)
    h = sim.harness
    before = listing(h)
    notifier = RecordingNotifier()
    # Without keep_versions, a 0 h retention would delete files of every pinned version.
    request = MaintenanceRequest(strategy=RETENTION, include_metadata=False)
    summary = run_maintenance(h.config, h.store, request, now=sim.day(4), notifier=notifier)

    after = listing(h)
    for table in ("account", "contact"):
        assert data_files(before, table) <= data_files(after, table)  # nothing lost
        outcome = next(o for o in summary.outcomes if o.table == table)
        vacuum = next(op for op in outcome.operations if op.operation == "Vacuum")
        assert vacuum.status == "Warning" and vacuum.files_removed == 0
        assert "VACUUM skipped for " + table in vacuum.error
        assert "bronze_backup_2025-01-01_" + table in vacuum.error  # names the checkpoint
    subjects = [a.subject for a in notifier.alerts]
    assert "Vacuum skipped for account to keep an active checkpoint restorable" in subjects
    warnings = [
        r
        for r in h.meta.read(SYNC_AUDIT_LOG).to_pylist()
        if r["Operation"] == "Vacuum" and r["Status"] == "Warning"
    ]
    assert {r["TableName"] for r in warnings} == {"account", "contact"}
    for checkpoint in list_checkpoints(h.meta):
        assert all(r.restorable for r in check_checkpoint(h.store, checkpoint))


def test_unloadable_pinned_version_skips_vacuum(pg_engine, pg_schema, make_config, harness_for):
    sim = simulate(pg_engine, pg_schema, make_config, harness_for, days=2)
    h = sim.harness
    from bronze_sync.checkpoints import CheckpointType, create_checkpoint

    create_checkpoint(
        h.meta, "from_the_future", CheckpointType.MANUAL, {"account": 999}, sim.day(1), "test"
    )
    before = listing(h)
    request = MaintenanceRequest(tables=["account"], include_metadata=False)
    summary = run_maintenance(h.config, h.store, request, now=sim.day(2))
    vacuum = next(op for op in summary.outcomes[0].operations if op.operation == "Vacuum")
    assert vacuum.status == "Warning" and "from_the_future" in vacuum.error
    assert data_files(before, "account") <= data_files(listing(h), "account")


def test_short_vacuum_retention_is_refused_naming_table_and_setting():
    text = """
source: {kind: sql, url: "postgresql+psycopg://x/y"}
bronze: {path: /tmp/bronze}
tables:
  - {name: account, source: public.account, primary_key: id, vacuum_retention_hours: 24}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, env={})
    assert "account" in str(caught.value) and "vacuum_retention_hours" in str(caught.value)
    allowed = text.replace("24}", "24, allow_short_retention: true}")
    assert parse_config(allowed, env={}).tables[0].vacuum_retention_hours == 24
