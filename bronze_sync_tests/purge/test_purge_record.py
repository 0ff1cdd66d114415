"""Recording a purge end to end: impact report, pre-purge checkpoint, metadata, next sync."""

from __future__ import annotations

import datetime as dt

import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from bronze_sync.checkpoints import CheckpointType, list_checkpoints
from bronze_sync.checkpoints.integrity import check_checkpoint
from bronze_sync.metadata import RunInfo
from bronze_sync.metadata.pipeline_config import read_state
from bronze_sync.purge import PurgeRequest, run_purge
from bronze_sync.purge.history import read_events
from bronze_sync_tests.helpers import PgTable, years_ago
from bronze_sync_tests.purge.test_purge_request import Alerts, listing

PURGE_DAY = (years_ago(5)).date()
CUTOFF = dt.datetime(PURGE_DAY.year, PURGE_DAY.month, PURGE_DAY.day, tzinfo=dt.UTC)


@pytest.fixture
def account(pg_engine, pg_schema):
    table = PgTable(pg_engine, pg_schema)
    table.insert_ids([f"old{i}" for i in range(12)], created=years_ago(7))
    table.insert_ids([f"mid{i}" for i in range(6)], created=years_ago(5.5))
    table.insert_ids([f"new{i}" for i in range(30)], created=years_ago(1))
    return table


@pytest.fixture
def h(account, make_config, harness_for):
    h = harness_for(make_config([account.config(max_delete_fraction=0.5)]))
    h.sync()
    return h


def record(h, alerts=None, **kwargs):
    request = PurgeRequest(purge_date=PURGE_DAY, tables=("account",), **kwargs)
    now = dt.datetime.now(dt.UTC)
    return run_purge(
        h.config,
        h.store,
        request,
        RunInfo("purge-run", "purge_metadata_update"),
        now,
        alerts if alerts is not None else Alerts(),
    )


def audit(h, operation):
    return [r for r in h.meta.rows("SyncAuditLog") if r["Operation"] == operation]


def test_impact_counts_equal_what_the_next_sync_flags(account, h):
    alerts = Alerts()
    account.delete(["new0"])  # a recent row deleted in the source stays a DELETE
    purged_in_source = account.purge_before(CUTOFF)
    outcome = record(h, alerts)
    impact = outcome.plan.report.tables[0]
    assert (impact.active_rows, impact.to_purge, impact.without_created) == (48, 18, 0)
    assert impact.to_purge == purged_in_source
    assert f"{impact.share:.1%}" == "37.5%"
    assert (
        impact.oldest.date() == years_ago(7).date()
        and impact.newest.date() == years_ago(5.5).date()
    )

    result = h.sync()
    assert (result.purged, result.deleted) == (impact.to_purge, 1)
    bronze = h.bronze()
    flagged = bronze.filter(bronze.column("IsPurged"))
    assert flagged.num_rows == 18
    assert pc.all(pc.less(flagged.column("createdon"), CUTOFF)).as_py()

    (event,) = read_events(h.meta, "account")
    assert (event.status, event.expected, event.actual) == ("Matched", 18, 18)
    (summary,) = audit(h, "PostPurgeSummary")
    assert summary["Status"] == "Success" and summary["RowsPurged"] == 18
    state = read_state(h.meta, "account")
    assert state["LastPurgeDate"] == CUTOFF and state["PurgeRecordCount"] == 18
    assert state["LastPurgeRecorded"] is not None
    (validation,) = audit(h, "PurgeValidation")
    assert validation["RowsPurged"] == 18 and validation["RowsProcessed"] == 48
    (recorded,) = audit(h, "PurgeRecorded")
    assert "expected PURGE rows 18" in recorded["Notes"]
    (notice,) = alerts.sent
    assert "18 expected to become IsPurged" in notice.subject
    assert "| account | 48 | 18 | 37.5% |" in notice.body
    assert outcome.checkpoint.name in notice.body


def test_mismatch_between_expected_and_purged_rows_warns(account, h):
    account.delete([f"old{i}" for i in range(5)])  # the source purged only 5 of 18 old rows
    alerts = Alerts()
    record(h)
    h.sync(notifier=alerts)
    (event,) = read_events(h.meta, "account")
    assert (event.status, event.expected, event.actual) == ("Mismatch", 18, 5)
    (summary,) = audit(h, "PostPurgeSummary")
    assert summary["Status"] == "Warning"
    assert "13 expected row(s) are still in the source" in summary["Notes"]
    (alert,) = alerts.sent
    assert alert.subject == "Post-purge summary mismatch for account"
    assert read_state(h.meta, "account")["PurgeRecordCount"] == 5
    h.sync(notifier=alerts)  # the summary is made once, after the first sync
    assert len(audit(h, "PostPurgeSummary")) == 1 and len(alerts.sent) == 1


def test_pre_purge_checkpoint_restores_the_table_as_it_was(account, h):
    before = h.bronze()
    account.purge_before(CUTOFF)
    outcome = record(h)
    checkpoint = outcome.checkpoint
    assert (
        checkpoint.type == CheckpointType.PRE_PURGE and checkpoint.validation_status == "Validated"
    )
    assert checkpoint.permanent and checkpoint.expires() == "never (permanent)"  # issue 21
    assert checkpoint.table_versions == {"account": 0}
    assert [c.name for c in list_checkpoints(h.meta, kind=CheckpointType.PRE_PURGE)] == [
        checkpoint.name
    ]
    h.sync()
    assert pc.sum(h.bronze().column("IsPurged")).as_py() == 18
    assert all(r.restorable for r in check_checkpoint(h.store, checkpoint))
    DeltaTable(h.store.table_uri("account")).restore(checkpoint.table_versions["account"])
    assert h.bronze().to_pylist() == before.to_pylist()


def test_dry_run_writes_nothing(account, h):
    account.purge_before(CUTOFF)
    before = listing(h.store.root)
    outcome = record(h, dry_run=True)
    assert outcome.dry_run and outcome.checkpoint is None and outcome.recorded_tables == []
    assert outcome.plan.report.tables[0].to_purge == 18
    assert listing(h.store.root) == before
    assert h.sync().deleted == 18  # nothing recorded: the vanished rows are deletes


def test_without_checkpoint_and_a_second_recording_supersedes_the_first(account, h):
    first = record(h, create_pre_purge_checkpoint=False)
    assert first.checkpoint is None
    assert not list_checkpoints(h.meta, kind=CheckpointType.PRE_PURGE)
    record(h, notes="re-recorded")
    events = read_events(h.meta, "account")
    assert [e.status for e in events] == ["Pending", "Superseded"]
    assert events[0].notes == "re-recorded"
    # The superseded expectation is replaced, not added to.
    assert read_state(h.meta, "account")["PurgeRecordCount"] == 18
    account.purge_before(CUTOFF)
    h.sync()
    assert read_state(h.meta, "account")["PurgeRecordCount"] == 18
    assert [e.status for e in read_events(h.meta, "account")] == ["Matched", "Superseded"]
