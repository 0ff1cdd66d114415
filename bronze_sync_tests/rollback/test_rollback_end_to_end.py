"""Checkpoint, a bad sync during a source outage, dry run, approved rollback, next sync."""

from __future__ import annotations

import json
import os

import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from bronze_sync.checkpoints import CheckpointType, find_checkpoint, list_checkpoints
from bronze_sync.metadata.schemas import (
    DATA_VALIDATION,
    ROLLBACK_COMPARISON_REPORTS,
    ROLLBACK_STATE_SNAPSHOTS,
    SYNC_AUDIT_LOG,
)
from bronze_sync.rollback import list_rollbacks
from bronze_sync_tests.rollback.scenario import IDS, outage, recover, rollback, synced

pytestmark = pytest.mark.slow  # Dagster runs or many syncs: see conftest.SLOW_FOLDERS


@pytest.fixture
def h(pg_engine, pg_schema, make_config, harness_for):
    return synced(pg_engine, pg_schema, make_config, harness_for)


def table_at(h, version):
    delta = h.store.open(h.store.table_uri("account"), version=version)
    return delta.to_pyarrow_table().sort_by("id")


def active_ids(h):
    data = h.bronze()
    flagged = pc.or_(data.column("IsDeleted"), data.column("IsPurged"))
    return data.filter(pc.invert(flagged)).column("id").to_pylist()


def bad_sync(h):
    """A legitimate change, then a sync while the source returns only 3 of its keys."""
    h.account.update(["a01"], name="renamed")
    h.account.insert_ids(["a12"])
    h.sync()
    outage(h.account, keep=3)
    result = h.sync(allow_mass_delete=True)
    assert result.deleted == 10
    recover(h.account)


def test_dry_run_shows_the_keys_that_reappear_and_changes_nothing(h):
    bad_sync(h)
    version = h.delta().version()
    outcome = rollback(h, "good")
    impact = outcome.plan.report.tables[0]
    c = impact.comparison
    assert outcome.dry_run and not outcome.results
    assert h.delta().version() == version
    assert c.samples["reappearing"] == IDS[3:]  # exactly the 9 keys the outage hid
    assert (c.reappearing, c.removed, c.value_changes) == (9, 1, 1)
    assert c.samples["removed"] == ["a12"] and c.samples["value_changes"] == ["a01"]
    assert c.transitions == {"deleted->active": 9}
    assert (c.counts_from["active"], c.counts_to["active"]) == (3, 12)
    assert impact.risk.value == "High"
    markdown = outcome.plan.report.to_markdown()
    assert "| account | v2 -> v0 | 13 | 12 | 1 | 9 | 9 | 1 | High |" in markdown
    planned = h.meta.rows(ROLLBACK_COMPARISON_REPORTS)
    assert [(r["ReportType"], r["RowsReappearing"], r["DryRun"]) for r in planned] == [
        ("Planned", 9, True)
    ]
    operations = {r["Operation"] for r in h.meta.rows(SYNC_AUDIT_LOG)}
    assert {"RollbackValidation", "RollbackImpactAnalysis"} <= operations
    assert "TableRestore" not in operations
    (record,) = list_rollbacks(h.meta)
    assert (record.status, record.requested_by, record.reason) == ("Dry run", "tester", "bad sync")

    storage = impact.storage
    files = DeltaTable(h.store.table_uri("account")).file_uris()
    assert storage.now == sum(os.path.getsize(f.removeprefix("file://")) for f in files)
    assert 0 < storage.leaving <= storage.now and storage.then > 0
    assert "Estimated duration: about" in markdown and "stay on disk until VACUUM" in markdown
    (notice,) = h.alerts.sent  # the dry run notifies, at LOW, without its token
    assert notice.severity.value == "LOW" and "risk High" in notice.subject
    assert outcome.plan.token not in notice.body and "| account | v2 -> v0 |" in notice.body


def test_approved_rollback_restores_the_checkpoint_and_next_sync_converges(h):
    bad_sync(h)
    token = rollback(h, "good").plan.token
    before = h.delta().version()
    outcome = rollback(h, "good", dry_run=False, approval_token=token)
    assert outcome.success, [r.error for r in outcome.results]
    (result,) = outcome.results
    assert result.new_version == before + 1
    assert table_at(h, None).equals(table_at(h, 0))  # bronze equals the checkpoint version

    (check,) = outcome.checks
    assert check.passed and check.counts == {"total": 12, "active": 12, "deleted": 0, "purged": 0}
    validation = [
        r for r in h.meta.rows(DATA_VALIDATION) if r["ValidationContext"] == "PostRollback"
    ]
    assert [r["ValidationPassed"] for r in validation] == [True]
    snapshots = {r["SnapshotType"]: r for r in h.meta.rows(ROLLBACK_STATE_SNAPSHOTS)}
    assert (snapshots["Pre"]["ActiveRows"], snapshots["Post"]["ActiveRows"]) == (3, 12)
    assert len(json.loads(snapshots["Post"]["SampleKeys"])) == 12
    executed = next(
        r for r in h.meta.rows(ROLLBACK_COMPARISON_REPORTS) if r["ReportType"] == "Executed"
    )
    assert executed["Status"] == "Restored" and executed["QualityScore"] == 100
    assert (executed["RowsReappearing"], executed["RowsRemoved"]) == (9, 1)
    assert json.loads(executed["StateTransitions"]) == {"deleted->active": 9}
    post = outcome.post_checkpoint
    assert post.type == CheckpointType.POST_ROLLBACK and "good" in post.notes
    assert (post.retention_date - post.created.date()).days == 30
    assert post.table_versions == {"account": before}
    assert [a.severity.value for a in h.alerts.sent] == ["LOW", "MEDIUM"]  # dry run, restore
    audit = [r for r in h.meta.rows(SYNC_AUDIT_LOG) if r["Operation"] == "TableRestore"]
    assert audit[0]["DeltaVersion"] == result.new_version and "tester" in audit[0]["Notes"]

    synced_again = h.sync()  # the watermark comes from the restored table
    assert synced_again.deleted == 0
    assert active_ids(h) == h.account.ids() == [*IDS, "a12"]
    data = h.bronze()
    assert data.num_rows == 13  # no duplicates
    assert data.filter(pc.equal(data.column("id"), "a01")).column("name").to_pylist() == ["renamed"]
    assert list_rollbacks(h.meta)[0].status == "Restored"


def test_rollback_of_a_rollback_through_the_post_rollback_checkpoint(h):
    bad_sync(h)
    bad_version = h.delta().version()
    token = rollback(h, "good").plan.token
    first = rollback(h, "good", dry_run=False, approval_token=token)
    undo_name = first.post_checkpoint.name
    assert find_checkpoint(h.meta, undo_name).type == CheckpointType.POST_ROLLBACK
    token = rollback(h, undo_name).plan.token
    second = rollback(h, undo_name, dry_run=False, approval_token=token)
    assert second.success
    assert table_at(h, None).equals(table_at(h, bad_version))
    kinds = [c.type for c in list_checkpoints(h.meta, kind=CheckpointType.POST_ROLLBACK)]
    assert kinds == [CheckpointType.POST_ROLLBACK] * 2
