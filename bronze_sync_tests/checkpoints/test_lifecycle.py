"""Manual checkpoints, and the integrity validation that finds checkpoints no longer restorable."""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import (
    CheckpointType,
    create_checkpoint,
    find_checkpoint,
    list_checkpoints,
)
from bronze_sync.checkpoints.lifecycle import (
    CheckpointNameError,
    check_manual_name,
    create_manual_checkpoint,
    validate_active_checkpoints,
)
from bronze_sync.errors import CheckpointError, ConfigError
from bronze_sync.metadata import MetadataStore
from bronze_sync_tests.purge.test_purge_request import Alerts

NOW = dt.datetime(2026, 3, 2, 6, 30, tzinfo=dt.UTC)


@pytest.fixture
def bronze(tmp_path):
    """Table a at versions 0..2 (v1 overwrote v0's file), table b at version 0."""
    store = BronzeStore(str(tmp_path / "bronze"))
    write_deltalake(store.table_uri("a"), pa.table({"id": [1]}))
    write_deltalake(store.table_uri("a"), pa.table({"id": [2]}), mode="overwrite")
    write_deltalake(store.table_uri("a"), pa.table({"id": [3]}), mode="append")
    write_deltalake(store.table_uri("b"), pa.table({"id": [1, 2]}))
    meta = MetadataStore(store)
    for name, versions in [("old", {"a": 0}), ("mid", {"a": 1, "b": 0}), ("new", {"a": 2})]:
        create_checkpoint(meta, name, CheckpointType.MANUAL, versions, NOW, "t", notes="made by t")
    return store, meta


def statuses(meta):
    return {c.name: c.validation_status for c in list_checkpoints(meta)}


def test_all_restorable_checkpoints_are_validated_and_audited(bronze):
    store, meta = bronze
    alerts = Alerts()
    results = validate_active_checkpoints(meta, store, NOW, notifier=alerts)
    assert all(r.restorable for r in results) and len(results) == 3
    assert set(statuses(meta).values()) == {"Validated"}
    notes = find_checkpoint(meta, "mid").notes
    assert notes == "made by t; integrity 2026-03-02 06:30 UTC: 2 table(s) restorable"
    (audit,) = [r for r in meta.rows("SyncAuditLog") if r["Operation"] == "CheckpointValidation"]
    assert audit["Status"] == "Success" and audit["RowsProcessed"] == 3
    assert alerts.sent == []


def test_deleted_data_file_makes_only_the_checkpoints_using_it_unrestorable(bronze):
    store, meta = bronze
    first_file = DeltaTable(store.table_uri("a"), version=0).file_uris()[0]
    os.remove(first_file.removeprefix("file://"))
    alerts = Alerts()
    results = validate_active_checkpoints(meta, store, NOW, notifier=alerts)
    assert [r.checkpoint.name for r in results if not r.restorable] == ["old"]
    assert statuses(meta) == {"old": "Unrestorable", "mid": "Validated", "new": "Validated"}
    old = find_checkpoint(meta, "old")
    assert "NOT restorable: 1 data file(s) of version 0 of a are gone" in old.notes
    assert old.is_active  # a broken checkpoint is reported, not hidden
    (alert,) = alerts.sent
    assert (
        alert.severity == "HIGH"
        and "1 active checkpoint(s) can no longer be restored" in alert.subject
    )
    assert "old (Manual" in alert.body
    (audit,) = [r for r in meta.rows("SyncAuditLog") if r["Operation"] == "CheckpointValidation"]
    assert audit["Status"] == "Warning" and "old" in audit["Notes"]


def test_log_cleanup_beyond_a_checkpoint_makes_it_unrestorable(bronze):
    store, meta = bronze
    uri = store.table_uri("a")
    table = DeltaTable(uri)
    # A too-short log retention lets log cleanup drop the entries old checkpoints need.
    table.alter.set_table_properties({"delta.logRetentionDuration": "interval 0 days"})
    write_deltalake(uri, pa.table({"id": [4]}), mode="append")
    DeltaTable(uri).create_checkpoint()
    DeltaTable(uri).cleanup_metadata()
    validate_active_checkpoints(meta, store, NOW + dt.timedelta(days=7))
    assert statuses(meta) == {"old": "Unrestorable", "mid": "Unrestorable", "new": "Unrestorable"}
    assert "can no longer be loaded" in find_checkpoint(meta, "mid").notes
    assert "b@0" not in find_checkpoint(meta, "mid").notes  # b is fine: only a's problem is listed


def test_deleted_log_entry_is_detected_and_the_verdict_is_replaced_not_appended(bronze):
    store, meta = bronze
    log_entry = os.path.join(store.table_uri("a"), "_delta_log", "00000000000000000001.json")
    with open(log_entry, "rb") as f:
        saved = f.read()
    os.remove(log_entry)
    validate_active_checkpoints(meta, store, NOW)
    assert statuses(meta)["mid"] == "Unrestorable"
    with open(log_entry, "wb") as f:
        f.write(saved)
    validate_active_checkpoints(meta, store, NOW + dt.timedelta(days=7))
    assert statuses(meta)["mid"] == "Validated"
    assert find_checkpoint(meta, "mid").notes == (
        "made by t; integrity 2026-03-09 06:30 UTC: 2 table(s) restorable"
    )


def test_broken_pre_purge_checkpoint_is_critical(bronze):
    store, meta = bronze
    create_checkpoint(meta, "pre_purge_x", CheckpointType.PRE_PURGE, {"a": 0}, NOW, "t")
    os.remove(DeltaTable(store.table_uri("a"), version=0).file_uris()[0].removeprefix("file://"))
    alerts = Alerts()
    validate_active_checkpoints(meta, store, NOW, notifier=alerts)
    assert alerts.sent[0].severity == "CRITICAL"


def test_manual_checkpoint_pins_current_versions(bronze, make_config):
    store, _ = bronze
    config = make_config(
        [
            {"name": "a", "source": "s.a", "primary_key": "id"},
            {"name": "b", "source": "s.b", "primary_key": "id"},
            {"name": "never_synced", "source": "s.c", "primary_key": "id"},
        ],
        bronze={"path": store.root},
    )
    made = create_manual_checkpoint(config, store, "before-fix", None, NOW, "me", "why")
    assert made.type == CheckpointType.MANUAL and made.table_versions == {"a": 2, "b": 0}
    assert made.retention_date == dt.date(2026, 4, 1) and made.total_rows == 4
    only_b = create_manual_checkpoint(config, store, "only-b", ["b"], NOW, "me")
    assert only_b.table_versions == {"b": 0}
    with pytest.raises(CheckpointError, match="no bronze table yet for never_synced"):
        create_manual_checkpoint(config, store, "x", ["never_synced"], NOW, "me")
    with pytest.raises(ConfigError, match="unknown table 'zzz'"):
        create_manual_checkpoint(config, store, "x", ["zzz"], NOW, "me")
    for bad in ["", "has space", "bronze_batch_2026-03-02", "pre_purge_x", "-x"]:
        with pytest.raises(CheckpointNameError):
            create_manual_checkpoint(config, store, bad, None, NOW, "me")


@pytest.mark.parametrize(
    "name",
    ["bronze_backup_2025-01-01_account", "pre_purge_x", "pre_maintenance_x", "post_rollback_x"],
)
def test_manual_names_cannot_take_an_automatic_prefix(name):
    with pytest.raises(CheckpointNameError, match="reserved"):
        check_manual_name(name)


def test_manual_name_is_accepted():
    assert check_manual_name("before_migration_2025") == "before_migration_2025"
