"""Checkpoint streaks and audit rows of failed runs, over real metadata Delta tables."""

from __future__ import annotations

import datetime as dt

from bronze_sync.alerts.content import TableFailure
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.metadata import AuditEntry, MetadataStore, RunInfo
from bronze_sync.metadata.audit import write_audit
from bronze_sync.metadata.schemas import CHECKPOINT_HISTORY, SYNC_AUDIT_LOG
from bronze_sync.monitoring.failures import (
    checkpoint_failure_days,
    checkpoint_streak_alert,
    record_run_failure,
)

DAY = dt.datetime(2026, 11, 20, 6, tzinfo=dt.UTC)


def syncs_on(meta, days):
    for d in days:
        when = DAY + dt.timedelta(days=d)
        write_audit(meta, RunInfo(f"r{d}"), [AuditEntry("DataSync", "a", when, when)], when)


def checkpoint_on(meta, d, status):
    meta.append(
        CHECKPOINT_HISTORY,
        [{"CheckpointId": f"c{d}", "CheckpointName": f"n{d}", "CheckpointType": "Daily",
          "CreatedDate": DAY + dt.timedelta(days=d), "ValidationStatus": status, "IsActive": True}],
    )  # fmt: skip


def test_three_sync_days_without_a_validated_checkpoint_alert(tmp_path):
    meta = MetadataStore(BronzeStore(str(tmp_path)))
    syncs_on(meta, range(5))
    checkpoint_on(meta, 0, "Validated")
    checkpoint_on(meta, 1, "Validated")
    checkpoint_on(meta, 3, "Failed")
    today = (DAY + dt.timedelta(days=4)).date()
    days = checkpoint_failure_days(meta, today)
    assert [d.day for d in days] == [22, 23, 24]
    alert = checkpoint_streak_alert(days)
    assert alert and alert.subject == "checkpoint creation failed on 3 consecutive sync days"


def test_two_days_do_not_alert(tmp_path):
    meta = MetadataStore(BronzeStore(str(tmp_path)))
    syncs_on(meta, range(3))
    checkpoint_on(meta, 0, "Validated")
    days = checkpoint_failure_days(meta, (DAY + dt.timedelta(days=2)).date())
    assert len(days) == 2 and checkpoint_streak_alert(days) is None


def test_run_failure_rows_are_written_only_when_missing(tmp_path):
    meta = MetadataStore(BronzeStore(str(tmp_path)))
    run = RunInfo("run-x")
    write_audit(meta, run, [AuditEntry("DataSync", "a", DAY, DAY, status="Failed", error="e")], DAY)
    failures = [TableFailure("a", "SourceError", "boom"), TableFailure("b", "OSError", "crash")]
    assert record_run_failure(meta, run, failures, DAY) == ["b"]
    rows = [r for r in meta.rows(SYNC_AUDIT_LOG) if r["Status"] == "Failed"]
    assert sorted(r["TableName"] for r in rows) == ["a", "b"]
    assert record_run_failure(meta, run, failures, DAY) == []
