"""Missing Daily checkpoints are recorded late only while that still makes sense."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from deltalake import write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import CheckpointType, create_checkpoint, list_checkpoints
from bronze_sync.checkpoints.repair import (
    CHECKPOINT_OPERATION,
    checkpoint_day,
    missing_checkpoints,
    repair_checkpoints,
)
from bronze_sync.metadata import AuditEntry, MetadataStore, RunInfo
from bronze_sync.metadata.audit import write_audit

NOW = dt.datetime(2026, 3, 2, 7, tzinfo=dt.UTC)
FAILED_AT = dt.datetime(2026, 3, 1, 6, 30, tzinfo=dt.UTC)


def setup(tmp_path, versions=2):
    store = BronzeStore(str(tmp_path))
    for i in range(versions):  # versions 0..versions-1
        write_deltalake(store.table_uri("a"), pa.table({"id": [i]}), mode="append")
    return store, MetadataStore(store)


def failed_checkpoint(meta, version, partition_key="2026-03-01"):
    entry = AuditEntry(
        CHECKPOINT_OPERATION, "a", FAILED_AT, status="Warning", delta_version=version
    )
    write_audit(meta, RunInfo("run-1", partition_key=partition_key), [entry], FAILED_AT)


def repair(store, meta):
    return repair_checkpoints(meta, store, RunInfo("run-2"), NOW, "tester")


def outcomes(meta):
    rows = [r for r in meta.rows("SyncAuditLog") if r["Operation"] == CHECKPOINT_OPERATION]
    return sorted((r["Status"], r["DeltaVersion"], r["Notes"] or "") for r in rows)


def test_restorable_version_gets_its_daily_checkpoint_of_the_failed_day(tmp_path):
    store, meta = setup(tmp_path)
    failed_checkpoint(meta, 1)
    (made,) = repair(store, meta)
    assert made.name == "bronze_backup_2026-03-01_a" and made.table_versions == {"a": 1}
    assert made.type == CheckpointType.DAILY and made.validation_status == "Validated"
    assert "run-1" in (made.notes or "")
    assert missing_checkpoints(meta) == []
    assert repair(store, meta) == []  # settled: nothing to do the second time


def test_version_no_longer_in_the_log_is_skipped_with_the_reason(tmp_path):
    store, meta = setup(tmp_path)
    failed_checkpoint(meta, 7)  # the log ends at version 1
    assert repair(store, meta) == []
    skipped = [o for o in outcomes(meta) if o[0] == "Skipped"]
    assert len(skipped) == 1 and "no longer restorable" in skipped[0][2]
    assert missing_checkpoints(meta) == [] and list_checkpoints(meta) == []


def test_version_already_pinned_by_another_checkpoint_is_not_pinned_twice(tmp_path):
    store, meta = setup(tmp_path)
    create_checkpoint(meta, "by_hand", CheckpointType.MANUAL, {"a": 1}, FAILED_AT, "op")
    failed_checkpoint(meta, 1)
    assert repair(store, meta) == []
    assert [c.name for c in list_checkpoints(meta)] == ["by_hand"]
    assert ("Success", 1, "version already pinned by by_hand") in outcomes(meta)


def test_later_version_under_the_same_name_is_never_superseded(tmp_path):
    store, meta = setup(tmp_path)
    later = create_checkpoint(
        meta, "bronze_backup_2026-03-01_a", CheckpointType.DAILY, {"a": 1}, FAILED_AT, "sync"
    )
    failed_checkpoint(meta, 0)
    assert repair(store, meta) == []
    assert [c.checkpoint_id for c in list_checkpoints(meta)] == [later.checkpoint_id]
    assert any(o[0] == "Skipped" and "later version 1" in o[2] for o in outcomes(meta))


def test_checkpoint_day_is_the_batch_key_or_the_failure_date():
    assert checkpoint_day("2026-03-01", NOW) == "2026-03-01"
    assert checkpoint_day("20260301", NOW) == "2026-03-02"  # a partition value, not a day
    assert checkpoint_day(None, NOW) == "2026-03-02"
