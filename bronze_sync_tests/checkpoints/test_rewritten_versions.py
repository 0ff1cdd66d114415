"""A checkpoint records which commit each pinned version was, and notices when it is rewritten.

The rewrite is real: the newest `_delta_log` entry is deleted and the next commit takes its
version number again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import (
    CheckpointType,
    create_batch_checkpoint,
    create_checkpoint,
    daily_name,
    find_checkpoint,
)
from bronze_sync.checkpoints.integrity import check_checkpoint, check_restorable
from bronze_sync.checkpoints.lifecycle import validate_active_checkpoints
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.schemas import CHECKPOINT_HISTORY
from bronze_sync_tests.purge.test_purge_request import Alerts

NOW = dt.datetime(2026, 3, 2, 6, 30, tzinfo=dt.UTC)
STAMP = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} UTC"
REWRITTEN = re.compile(
    rf"^Unrestorable: version 1 was rewritten \(the checkpoint recorded a WRITE commit at "
    rf"{STAMP}, the log now holds a DELETE commit at {STAMP}\)$"
)


@pytest.fixture
def store(tmp_path):
    """Table t at versions 0 and 1 (two appends)."""
    store = BronzeStore(str(tmp_path / "bronze"))
    write_deltalake(store.table_uri("t"), pa.table({"id": [1, 2]}))
    write_deltalake(store.table_uri("t"), pa.table({"id": [3]}), mode="append")
    return store


def rewrite_newest(store: BronzeStore) -> None:
    """Delete version 1's log entry, then commit again: version 1 is now a DELETE."""
    uri = store.table_uri("t")
    os.remove(os.path.join(uri, "_delta_log", f"{1:020d}.json"))
    DeltaTable(uri).delete("id = 1")
    assert DeltaTable(uri).version() == 1


def commit_info(store: BronzeStore, version: int) -> dict:
    path = os.path.join(store.table_uri("t"), "_delta_log", f"{version:020d}.json")
    with open(path) as log:
        actions = [json.loads(line) for line in log if line.strip()]
    return next(a["commitInfo"] for a in actions if "commitInfo" in a)


def test_checkpoint_records_the_commit_of_each_pinned_version(store):
    DeltaTable(store.table_uri("t")).delete("id = 2")  # a newer commit must not be recorded
    meta = MetadataStore(store)
    create_checkpoint(meta, "m", CheckpointType.MANUAL, {"t": 1}, NOW, "me")
    recorded = json.loads(meta.rows(CHECKPOINT_HISTORY)[0]["TableCommits"])
    info = commit_info(store, 1)
    assert recorded == {"t": {"timestamp": info["timestamp"], "operation": "WRITE"}}


def test_rewritten_version_is_unrestorable_with_both_commits_named(store):
    meta = MetadataStore(store)
    create_checkpoint(meta, "m", CheckpointType.MANUAL, {"t": 1}, NOW, "me")
    rewrite_newest(store)
    (verdict,) = check_checkpoint(store, find_checkpoint(meta, "m"))
    assert not verdict.restorable and verdict.rewritten
    assert REWRITTEN.match(verdict.reason), verdict.reason
    assert check_restorable(store, "t", 0).restorable  # older versions are untouched


def test_validation_marks_the_rewritten_checkpoint_unrestorable(store):
    meta = MetadataStore(store)
    create_checkpoint(meta, "v0", CheckpointType.MANUAL, {"t": 0}, NOW, "me")
    create_checkpoint(meta, "v1", CheckpointType.MANUAL, {"t": 1}, NOW, "me")
    rewrite_newest(store)
    alerts = Alerts()
    results = validate_active_checkpoints(meta, store, NOW, notifier=alerts)
    verdicts = {r.checkpoint.name: r.checkpoint.validation_status for r in results}
    assert verdicts == {"v0": "Validated", "v1": "Unrestorable"}
    notes = find_checkpoint(meta, "v1").notes or ""
    assert "NOT restorable: t: Unrestorable: version 1 was rewritten" in notes
    assert "version 1 was rewritten" in alerts.sent[0].body


def test_checkpoint_rows_written_before_table_commits_skip_the_comparison(store):
    meta = MetadataStore(store)
    old = create_checkpoint(meta, "old", CheckpointType.MANUAL, {"t": 1}, NOW, "me").to_row()
    del old["TableCommits"]
    old["CheckpointId"], old["CheckpointName"] = "older-row", "older"
    meta.append(CHECKPOINT_HISTORY, [old])
    rewrite_newest(store)
    older = find_checkpoint(meta, "older")
    assert older.table_commits == {}
    assert all(v.restorable for v in check_checkpoint(store, older))


def test_batch_checkpoint_keeps_the_daily_commit_and_fails_when_it_was_rewritten(store):
    meta = MetadataStore(store)
    daily = create_checkpoint(
        meta, daily_name("2026-03-02", "t"), CheckpointType.DAILY, {"t": 1}, NOW, "sync"
    )
    rewrite_newest(store)
    batch = create_batch_checkpoint(meta, "2026-03-02", NOW, "sync")
    assert batch.table_commits == daily.table_commits
    assert batch.validation_status == "Failed"
    assert "t: Unrestorable: version 1 was rewritten" in (batch.notes or "")
