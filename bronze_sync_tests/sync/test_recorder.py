"""Every table sync leaves a complete record: audit, validation, checkpoint, config state."""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pytest

from bronze_sync.errors import MassDeleteError
from bronze_sync_tests.helpers import PgTable


@pytest.fixture
def account(pg_engine, pg_schema):
    return PgTable(pg_engine, pg_schema)


def operations(h, run_status="Success"):
    log = h.meta.read("SyncAuditLog")
    return log.filter(pc.equal(log.column("Status"), run_status)).column("Operation").to_pylist()


def test_initial_then_daily_sync_records(account, make_config, harness_for):
    h = harness_for(make_config([account.config(max_delete_fraction=0.5)]))
    account.insert_ids(["a", "b", "c"])
    h.sync(partition="2026-11-22")
    assert sorted(operations(h)) == ["CreateTable", "InitialSync", "SchemaCheck"]
    account.delete(["c"])
    account.update(["a"], name="new")
    result = h.sync(partition="2026-11-23")
    log = {
        r["Operation"]: r for r in h.meta.rows("SyncAuditLog") if r["PartitionKey"] == "2026-11-23"
    }
    assert set(log) == {"SchemaCheck", "DataSync", "DeleteDetection"}
    assert log["DeleteDetection"]["RowsDeleted"] == 1 and "'c'" in log["DeleteDetection"]["Notes"]
    assert (
        log["DataSync"]["RowsProcessed"] == 1 and log["DataSync"]["DeltaVersion"] == result.version
    )

    validation = max(h.meta.rows("DataValidation"), key=lambda r: r["ValidationDate"])
    assert validation["ValidationPassed"] and validation["ValidationContext"] == "DailySync"
    assert (
        validation["BronzeRowCount"],
        validation["ActiveRowCount"],
        validation["DeletedRowCount"],
    ) == (3, 2, 1)
    assert validation["SourceRowCount"] == 2

    checkpoints = {r["CheckpointName"]: r for r in h.meta.rows("CheckpointHistory")}
    daily = checkpoints["bronze_backup_2026-11-23_account"]
    assert daily["CheckpointType"] == "Daily" and json.loads(daily["TableVersions"]) == {
        "account": 1
    }
    assert daily["ValidationStatus"] == "Validated" and daily["TotalRows"] == 3

    state = h.meta.rows("PipelineConfig")[0]
    assert (
        state["TableExists"]
        and state["HasTrackingColumns"]
        and state["LastSyncStatus"] == "Success"
    )
    assert state["LastSyncVersion"] == 1 and state["LastDailySync"] is not None


def test_failed_sync_is_audited_with_error(account, make_config, harness_for):
    h = harness_for(make_config([account.config(max_delete_fraction=0)]))
    account.insert_ids(["a", "b"])
    h.sync()
    account.delete(["a"])
    with pytest.raises(MassDeleteError):
        h.sync()
    failed = [r for r in h.meta.rows("SyncAuditLog") if r["Status"] == "Failed"]
    assert len(failed) == 1 and "max_delete_fraction" in failed[0]["ErrorMessage"]
    assert failed[0]["Notes"] == "MassDeleteError"
    assert h.meta.rows("PipelineConfig")[0]["LastSyncStatus"] == "Failed"
    assert len(h.meta.rows("CheckpointHistory")) == 1  # only the first sync's
