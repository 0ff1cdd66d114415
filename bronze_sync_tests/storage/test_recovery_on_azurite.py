"""Checkpoints, rollback and maintenance with bronze on Azurite (abfss://)."""

from __future__ import annotations

import datetime as dt

import pyarrow.compute as pc

from bronze_sync.checkpoints import CheckpointType, find_checkpoint, list_checkpoints
from bronze_sync.checkpoints.integrity import check_checkpoint
from bronze_sync.checkpoints.lifecycle import validate_active_checkpoints
from bronze_sync.maintenance import MaintenanceRequest, run_maintenance
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync_tests.rollback.scenario import (
    IDS,
    Alerts,
    checkpoint,
    outage,
    recover,
    rollback,
)


def active_ids(h):
    data = h.bronze()
    flagged = pc.or_(data.column("IsDeleted"), data.column("IsPurged"))
    return sorted(data.filter(pc.invert(flagged)).column("id").to_pylist())


def checkpointed(h, account):
    """Sync 12 rows, pin them as `good`, then sync during a source outage (10 false deletes)."""
    account.insert_ids(IDS)
    h.sync()
    checkpoint(h, "good")
    h.account, h.alerts = account, Alerts()
    outage(account, keep=2)
    assert h.sync(allow_mass_delete=True).deleted == 10
    recover(account)


def test_checkpoint_validates_then_rollback_dry_run_and_execute_restore_it(account, h):
    checkpointed(h, account)
    results = validate_active_checkpoints(h.meta, h.store, dt.datetime.now(dt.UTC))
    assert {r.checkpoint.type for r in results} == {CheckpointType.DAILY, CheckpointType.MANUAL}
    assert all(r.restorable for r in results)
    assert find_checkpoint(h.meta, "good").validation_status == "Validated"

    bad_version = h.delta().version()
    plan = rollback(h, "good")
    assert plan.dry_run and not plan.results
    assert h.delta().version() == bad_version  # the dry run changed nothing
    comparison = plan.plan.report.tables[0].comparison
    assert comparison.reappearing == 10 and comparison.transitions == {"deleted->active": 10}

    done = rollback(h, "good", dry_run=False, approval_token=plan.plan.token)
    assert done.success, [r.error for r in done.results]
    assert done.results[0].new_version == bad_version + 1
    restored = h.store.open(h.store.table_uri("account")).to_pyarrow_table().sort_by("id")
    pinned = h.store.open(h.store.table_uri("account"), version=0).to_pyarrow_table()
    assert restored.equals(pinned.sort_by("id"))
    assert done.post_checkpoint.type == CheckpointType.POST_ROLLBACK
    assert "TableRestore" in {r["Operation"] for r in h.meta.rows(SYNC_AUDIT_LOG)}

    assert h.sync().deleted == 0  # the next sync converges from the restored table
    assert active_ids(h) == account.ids() == IDS


def test_vacuum_and_optimize_keep_every_active_checkpoint_restorable(
    account, az_config, harness_for
):
    h = harness_for(
        az_config([account.config(vacuum_retention_hours=0, allow_short_retention=True)])
    )
    account.insert_ids(IDS)
    h.sync()
    checkpoint(h, "first")
    for n in range(3):  # each sync rewrites the updated rows' file and adds one
        account.update(IDS[n::3], name=f"day {n}")
        account.insert_ids([f"new{n}"])
        h.sync()
    current = h.bronze()

    summary = run_maintenance(
        h.config,
        h.store,
        MaintenanceRequest(include_metadata=False),
        now=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
        notifier=Alerts(),
    )
    (outcome,) = [o for o in summary.outcomes if o.table == "account" and o.kind == "bronze"]
    operations = {op.operation: op for op in outcome.operations}
    assert operations["Vacuum"].status == "Success", operations["Vacuum"].error
    assert operations["Optimize"].status == "Success", operations["Optimize"].error
    assert operations["Vacuum"].files_removed > 0  # files only unpinned versions used
    assert operations["Optimize"].files_removed > 1  # small files compacted
    assert h.bronze().equals(current)  # maintenance changes files, never rows

    active = list_checkpoints(h.meta)
    assert {"first", summary.pre_checkpoint} <= {c.name for c in active}
    for pinned in active:
        assert all(r.restorable for r in check_checkpoint(h.store, pinned)), pinned.name
    first = h.store.open(h.store.table_uri("account"), version=0).to_pyarrow_table()
    assert sorted(first.column("id").to_pylist()) == IDS
    audit = {r["Operation"] for r in h.meta.rows(SYNC_AUDIT_LOG) if r["TableName"] == "account"}
    assert {"Vacuum", "Optimize"} <= audit
