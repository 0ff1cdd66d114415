"""Checkpoints pin exact Delta versions; same-name checkpoints are superseded, never deleted."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from deltalake import write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import (
    CheckpointType,
    create_batch_checkpoint,
    create_checkpoint,
    daily_name,
    find_checkpoint,
    list_checkpoints,
)
from bronze_sync.metadata import MetadataStore

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def setup(tmp_path):
    store = BronzeStore(str(tmp_path))
    for name, rows in [("a", 3), ("b", 2)]:
        write_deltalake(store.table_uri(name), pa.table({"id": list(range(rows))}))
    return MetadataStore(store)


def test_checkpoint_is_validated_with_rows_and_retention(tmp_path):
    meta = setup(tmp_path)
    checkpoint = create_checkpoint(meta, "m1", CheckpointType.MANUAL, {"a": 0, "b": 0}, NOW, "me")
    assert checkpoint.validation_status == "Validated" and checkpoint.total_rows == 5
    assert checkpoint.retention_date == dt.date(2026, 3, 31)
    row = meta.rows("CheckpointHistory")[0]
    assert row["TableVersions"] == '{"a": 0, "b": 0}' and row["TablesIncluded"] == 2


def test_missing_version_fails_validation(tmp_path):
    meta = setup(tmp_path)
    checkpoint = create_checkpoint(meta, "bad", CheckpointType.MANUAL, {"a": 7}, NOW, "me")
    assert checkpoint.validation_status == "Failed" and "a@7" in (checkpoint.notes or "")


def test_same_name_supersedes_and_keeps_history(tmp_path):
    meta = setup(tmp_path)
    first = create_checkpoint(meta, "n", CheckpointType.DAILY, {"a": 0}, NOW, "me")
    second = create_checkpoint(
        meta, "n", CheckpointType.DAILY, {"a": 0}, NOW + dt.timedelta(hours=1), "me"
    )
    everything = list_checkpoints(meta, include_inactive=True)
    assert len(everything) == 2 and [c.checkpoint_id for c in list_checkpoints(meta)] == [
        second.checkpoint_id
    ]
    old = next(c for c in everything if c.checkpoint_id == first.checkpoint_id)
    assert not old.is_active and second.checkpoint_id in (old.notes or "")
    assert find_checkpoint(meta, "n").checkpoint_id == second.checkpoint_id


def test_batch_checkpoint_unions_the_days_daily_checkpoints(tmp_path):
    meta = setup(tmp_path)
    create_checkpoint(
        meta, daily_name("2026-03-01", "a"), CheckpointType.DAILY, {"a": 0}, NOW, "me"
    )
    create_checkpoint(
        meta, daily_name("2026-03-01", "b"), CheckpointType.DAILY, {"b": 0}, NOW, "me"
    )
    create_checkpoint(
        meta, daily_name("2026-02-28", "b"), CheckpointType.DAILY, {"b": 0}, NOW, "me"
    )
    batch = create_batch_checkpoint(meta, "2026-03-01", NOW, "me")
    assert batch.name == "bronze_batch_2026-03-01" and batch.type == CheckpointType.DAILY_BATCH
    assert batch.table_versions == {"a": 0, "b": 0} and batch.total_rows == 5
    assert create_batch_checkpoint(meta, "2025-01-01", NOW, "me") is None
    again = create_batch_checkpoint(meta, "2026-03-01", NOW, "sensor")
    assert again.checkpoint_id == batch.checkpoint_id
    assert len(list_checkpoints(meta, kind=CheckpointType.DAILY_BATCH, include_inactive=True)) == 1
