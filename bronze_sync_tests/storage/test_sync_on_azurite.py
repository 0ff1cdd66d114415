"""Syncs, purges, row history and the health report with bronze on Azurite (abfss://)."""

from __future__ import annotations

import datetime as dt

from bronze_sync.checkpoints import CheckpointType, list_checkpoints
from bronze_sync.checkpoints.integrity import check_checkpoint
from bronze_sync.history import read_changes, row_timeline
from bronze_sync.metadata import RunInfo
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync.monitoring.publish import publish_report
from bronze_sync.purge import PurgeRequest, run_purge
from bronze_sync_tests.helpers import assert_bronze_invariants, years_ago
from bronze_sync_tests.rollback.scenario import Alerts

IDS = [f"k{i:02d}" for i in range(20)]


def test_initial_then_daily_sync_flag_deletes_and_live_only_in_the_container(
    account, h, bronze, bronze_root
):
    account.insert_ids(IDS)
    first = h.sync()
    assert (first.mode, first.inserted, first.version) == ("initial", 20, 0)

    account.update(["k01", "k02"], name="renamed")
    account.insert_ids(["k20", "k21", "k22"])
    account.delete(["k03"])
    daily = h.sync()
    assert (daily.inserted, daily.updated, daily.deleted, daily.version) == (3, 2, 1, 1)

    data = h.bronze()
    assert data.num_rows == 23
    assert_bronze_invariants(data, "id", set(account.ids()), {"k03": "DELETE"})
    rows = {r["id"]: r for r in data.to_pylist()}
    assert rows["k01"]["name"] == "renamed" and rows["k01"]["SyncOperation"] == "UPDATE"
    assert rows["k03"]["IsDeleted"] and not rows["k03"]["IsPurged"]

    audit = h.meta.rows(SYNC_AUDIT_LOG)
    assert {r["Status"] for r in audit if r["TableName"] == "account"} == {"Success"}
    blobs = bronze.blobs()
    assert "bronze/account/_delta_log/00000000000000000001.json" in blobs
    assert any(b.startswith("bronze/metadata/SyncAuditLog/_delta_log/") for b in blobs)
    assert any(b.startswith("bronze/history/account/") for b in blobs)
    assert not bronze_root.exists()  # nothing went to the local fallback folder


def test_recorded_purge_flags_old_rows_purged_and_recent_ones_deleted(account, h):
    account.insert_ids([f"old{i}" for i in range(6)], created=years_ago(7))
    account.insert_ids([f"new{i}" for i in range(14)], created=years_ago(1))
    h.sync()
    purge_day = years_ago(5).date()
    request = PurgeRequest(purge_date=purge_day, tables=("account",))
    outcome = run_purge(
        h.config,
        h.store,
        request,
        RunInfo("purge-run", "purge_metadata_update"),
        dt.datetime.now(dt.UTC),
        Alerts(),
    )
    assert outcome.recorded_tables == ["account"] and outcome.checkpoint is not None
    assert h.state()["LastPurgeDate"] is not None

    account.purge_before(dt.datetime(purge_day.year, purge_day.month, purge_day.day, tzinfo=dt.UTC))
    account.delete(["new0"])
    result = h.sync()
    assert (result.purged, result.deleted) == (6, 1)
    expected = {f"old{i}": "PURGE" for i in range(6)} | {"new0": "DELETE"}
    assert_bronze_invariants(h.bronze(), "id", set(account.ids()), expected)

    (pre_purge,) = list_checkpoints(h.meta, kind=CheckpointType.PRE_PURGE)
    assert pre_purge.name == outcome.checkpoint.name
    assert pre_purge.table_versions == {"account": 0}
    assert all(r.restorable for r in check_checkpoint(h.store, pre_purge))


def test_row_history_and_change_feed_record_every_version_on_azurite(account, h):
    account.insert_ids(["a", "b", "c"])
    h.sync()
    account.update(["b"], name="second")
    account.delete(["c"])
    h.sync()

    timeline = row_timeline(h.store, "account", ["id"], {"id": "b"})
    assert [(e.version, e.operation) for e in timeline] == [(1, "UPDATE"), (0, "INSERT")]
    feed = read_changes(h.store, "account", since_version=0).read_all()
    changed = sorted(
        zip(feed.column("id").to_pylist(), feed.column("Operation").to_pylist(), strict=True)
    )
    assert changed == [("b", "UPDATE"), ("c", "DELETE")]


def test_health_report_is_written_into_the_container(account, h, bronze):
    account.insert_ids(["a", "b", "c"])
    h.sync()
    today = dt.datetime.now(dt.UTC).date()
    published = publish_report(h.config, today, email=False)
    assert published.path == f"{bronze.uri}/reports/health_{today.isoformat()}.html"
    html = bronze.read(f"bronze/reports/health_{today.isoformat()}.html").decode()
    assert html.lstrip().lower().startswith("<!doctype html") and "account" in html
    assert "account" in published.markdown
