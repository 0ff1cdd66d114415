"""Log cleanup never removes the JSON commits an active checkpoint's version needs."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.maintenance.safety import Pin, plan_log_cleanup


def three_versions(store: BronzeStore) -> DeltaTable:
    uri = store.table_uri("account")
    for version in range(3):
        rows = pa.table({"id": [f"k{version}"], "v": [version]})
        write_deltalake(
            uri,
            rows,
            mode="append",
            configuration={"delta.logRetentionDuration": "interval 30 days"},
        )
    return DeltaTable(uri)


def test_expired_commits_are_planned_for_cleanup_when_no_checkpoint_needs_them(tmp_path):
    store = BronzeStore(str(tmp_path))
    delta = three_versions(store)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    plan = plan_log_cleanup(store, delta, "account", pins=[], wall_now=later)
    assert plan.safe and plan.retention_days == 30
    # The current version's commit is never expired.
    assert sorted(p.rsplit("/", 1)[-1] for p in plan.expired) == [
        "00000000000000000000.json",
        "00000000000000000001.json",
    ]


def test_cleanup_is_skipped_when_a_pinned_version_needs_expired_commits(tmp_path):
    store = BronzeStore(str(tmp_path))
    delta = three_versions(store)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    pins = [Pin(version=1, checkpoints=("pre_purge_2025-01-01",))]
    plan = plan_log_cleanup(store, delta, "account", pins=pins, wall_now=later)
    assert not plan.safe
    assert "pre_purge_2025-01-01" in (plan.reason or "") and "version 1" in (plan.reason or "")


def test_fresh_commits_need_no_cleanup_and_block_nothing(tmp_path):
    store = BronzeStore(str(tmp_path))
    delta = three_versions(store)
    pins = [Pin(version=0, checkpoints=("bronze_backup_x",))]
    plan = plan_log_cleanup(store, delta, "account", pins=pins)
    assert plan.safe and plan.expired == []
