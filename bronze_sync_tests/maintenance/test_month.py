"""After a month of daily syncs, maintenance reclaims space and keeps every active checkpoint."""

from __future__ import annotations

import pytest

from bronze_sync.checkpoints import CheckpointType, list_checkpoints
from bronze_sync.checkpoints.integrity import check_checkpoint
from bronze_sync.maintenance import MaintenanceRequest, run_maintenance
from bronze_sync.metadata.schemas import STORAGE_HISTORY, SYNC_AUDIT_LOG
from bronze_sync_tests.maintenance.simulation import (
    TABLES,
    RecordingNotifier,
    all_checkpoints,
    restored_rows,
    simulate,
)

pytestmark = pytest.mark.slow  # Dagster runs or many syncs: see conftest.SLOW_FOLDERS


def test_month_of_syncs_then_maintenance_keeps_active_checkpoints(
    pg_engine, pg_schema, make_config, harness_for, tmp_path
):
    sim = simulate(pg_engine, pg_schema, make_config, harness_for, days=30)
    h = sim.harness
    now = sim.day(31).replace(hour=2)
    notifier = RecordingNotifier()
    summary = run_maintenance(h.config, h.store, MaintenanceRequest(), now=now, notifier=notifier)

    bronze = {o.table: o for o in summary.outcomes if o.kind == "bronze"}
    assert set(bronze) == set(TABLES)
    for outcome in bronze.values():
        assert outcome.status == "Success", outcome.reasons()
        assert outcome.after.bytes < outcome.before.bytes  # space reclaimed
    assert summary.pre_checkpoint and not summary.unrestorable

    today = now.date()
    checkpoints = all_checkpoints(h)
    expired = [c for c in checkpoints if c.retention_date < today]
    assert expired and not any(c.is_active for c in expired)
    assert sorted(summary.deactivated) == sorted(c.name for c in expired)
    assert {c.type for c in expired} >= {CheckpointType.DAILY, CheckpointType.MANUAL}

    active = list_checkpoints(h.meta)
    # every type the simulated month creates (a schema change never happens in it), still pinned
    assert {c.type for c in active} == set(CheckpointType) - {CheckpointType.PRE_SCHEMA_CHANGE}
    for checkpoint in active:
        assert all(r.restorable for r in check_checkpoint(h.store, checkpoint)), checkpoint.name
        assert restored_rows(h, checkpoint, tmp_path) == checkpoint.total_rows, checkpoint.name

    audit = h.meta.read(SYNC_AUDIT_LOG).to_pylist()
    enforcement = [r for r in audit if r["Operation"] == "CheckpointRetentionEnforcement"]
    assert enforcement[-1]["RowsProcessed"] == len(expired)
    vacuums = [r for r in audit if r["Operation"] == "Vacuum" and r["TableName"] in TABLES]
    assert {r["Status"] for r in vacuums} == {"Success"}
    assert all("bytes_reclaimed=" in r["Notes"] for r in vacuums)
    history = h.meta.read(STORAGE_HISTORY).to_pylist()
    assert {r["TableName"] for r in history} >= set(TABLES)
    assert all(r["BytesReclaimed"] > 0 for r in history if r["TableName"] in TABLES)
    assert not notifier.alerts
    # what maintenance freed was only reachable through expired checkpoints
    broken = [c for c in expired if not all(r.restorable for r in check_checkpoint(h.store, c))]
    assert broken
