"""A failed Daily checkpoint never fails a committed sync (CR-001 §6): retried, audited
Warning, alerted once, caught by checkpoint_recorded and recorded by the next sync."""

from __future__ import annotations

import datetime as dt

import pytest

from bronze_sync.alerts.dispatch import Dispatcher
from bronze_sync.checkpoints import list_checkpoints
from bronze_sync.checkpoints.repair import CHECKPOINT_OPERATION, missing_checkpoints
from bronze_sync.faults import FAULT_ENV, reset_faults
from bronze_sync.validation import CheckSeverity, evaluate_table
from bronze_sync_tests.helpers import PgTable
from bronze_sync_tests.maintenance.simulation import RecordingNotifier

FAST = {"checkpoint_retry_delay": 0.0}


@pytest.fixture
def account(pg_engine, pg_schema):
    return PgTable(pg_engine, pg_schema)


@pytest.fixture
def h(account, make_config, harness_for):
    reset_faults()
    harness = harness_for(make_config([account.config(max_delete_fraction=0.5)]))
    account.insert_ids(["a", "b", "c"])
    harness.sync(partition="2026-11-22", **FAST)
    return harness


def checkpoint_rows(h):
    return [r for r in h.meta.rows("SyncAuditLog") if r["Operation"] == CHECKPOINT_OPERATION]


def pinning(h, version):
    return [c.name for c in list_checkpoints(h.meta) if c.table_versions.get("account") == version]


def checkpoint_recorded(h):
    now = dt.datetime.now(dt.UTC)
    (result,) = evaluate_table(h.store, h.meta, h.config.tables[0], now, ["checkpoint_recorded"])
    return result


def test_transient_checkpoint_failure_is_retried_and_recorded(h, account, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "checkpoint:raise:2")  # fails twice, then works
    account.update(["a"], name="new")
    result = h.sync(partition="2026-11-23", **FAST)
    assert result.checkpoint_error is None
    assert pinning(h, result.version) == ["bronze_backup_2026-11-23_account"]
    assert checkpoint_rows(h) == []


def test_checkpoint_failing_after_retries_leaves_a_successful_sync_with_a_warning(
    h, account, monkeypatch
):
    before = h.state()["LastDailySync"]
    monkeypatch.setenv(FAULT_ENV, "checkpoint:raise")
    account.update(["a"], name="new")
    alerts = RecordingNotifier()
    result = h.sync(partition="2026-11-23", notifier=alerts, **FAST)  # does not raise

    state = h.state()
    assert state["LastSyncStatus"] == "Success" and state["LastSyncVersion"] == result.version
    assert state["LastDailySync"] > before
    log = [r for r in h.meta.rows("SyncAuditLog") if r["PartitionKey"] == "2026-11-23"]
    assert {r["Operation"]: r["Status"] for r in log}["DataSync"] == "Success"
    (warning,) = checkpoint_rows(h)
    assert warning["Status"] == "Warning" and warning["TableName"] == "account"
    assert warning["DeltaVersion"] == result.version and warning["RetryCount"] == 2
    assert "InjectedFaultError" in warning["ErrorMessage"]
    assert "bronze_backup_2026-11-23_account" in warning["Notes"]
    assert "injected fault" in result.checkpoint_error

    assert pinning(h, result.version) == []
    check = checkpoint_recorded(h)
    assert not check.passed and f"version {result.version}" in check.message
    assert check.severity == CheckSeverity.WARN  # does not block (fail) the committed run

    (alert,) = alerts.alerts
    assert alert.tables == ("account",) and alert.error_class == "CheckpointFailed"
    assert alert.subject == "1 table synced without a checkpoint in daily_sync"
    assert any("next sync" in step for step in alert.first_steps)


def test_next_sync_records_the_missing_checkpoint(h, account, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "checkpoint:raise")
    account.update(["a"], name="new")
    failed = h.sync(partition="2026-11-23", notifier=RecordingNotifier(), **FAST)
    assert [m.version for m in missing_checkpoints(h.meta)] == [failed.version]
    monkeypatch.delenv(FAULT_ENV)

    account.update(["b"], name="newer")
    later = h.sync(partition="2026-11-24", **FAST)
    assert pinning(h, failed.version) == ["bronze_backup_2026-11-23_account"]
    assert pinning(h, later.version) == ["bronze_backup_2026-11-24_account"]
    assert missing_checkpoints(h.meta) == []
    statuses = [(r["Status"], r["DeltaVersion"]) for r in checkpoint_rows(h)]
    assert sorted(statuses) == [("Success", failed.version), ("Warning", failed.version)]
    assert checkpoint_recorded(h).passed


def test_repeated_checkpoint_failures_alert_once_per_dedup_window(h, account, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "checkpoint:raise")
    transport = RecordingNotifier()
    notifier = Dispatcher([transport], h.meta, dt.timedelta(minutes=60))
    for day, key in [("23", "a"), ("24", "b")]:
        account.update([key], name=f"v{day}")
        h.sync(partition=f"2026-11-{day}", notifier=notifier, **FAST)
    assert len(transport.alerts) == 1
    suppressed = [r["Suppressed"] for r in h.meta.rows("AlertLog")]
    assert sorted(suppressed) == [False, True]
    assert len([r for r in checkpoint_rows(h) if r["Status"] == "Warning"]) == 2
