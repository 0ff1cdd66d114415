"""Retention policies: PrePurge and keep-forever checkpoints are permanent until retired;
manual checkpoints may keep a chosen number of days; older metadata tables keep working."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import CheckpointType, create_checkpoint, list_checkpoints
from bronze_sync.checkpoints.lifecycle import (
    RETIRED,
    create_manual_checkpoint,
    retire_checkpoint,
)
from bronze_sync.checkpoints.model import KEEP_FOREVER
from bronze_sync.config import parse_config
from bronze_sync.errors import CheckpointUsageError
from bronze_sync.maintenance.retention import enforce_retention
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.metadata.schemas import CHECKPOINT_HISTORY, SCHEMAS
from bronze_sync_tests.helpers import PgTable

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
RUN = RunInfo("run-retire", "retire_checkpoint")


@pytest.fixture
def store(tmp_path):
    store = BronzeStore(str(tmp_path / "bronze"))
    write_deltalake(store.table_uri("a"), pa.table({"id": [1, 2]}))
    return store


@pytest.fixture
def config(store):
    text = (
        f"source: {{kind: sql, url: 'sqlite://'}}\nbronze: {{path: '{store.root}'}}\n"
        "tables: [{name: a, source: a, primary_key: id}]\n"
    )
    return parse_config(text, env={}, origin="test")


def manual(config, store, name="keep", **options):
    return create_manual_checkpoint(config, store, name, None, NOW, "me", **options)


def snapshot(meta):
    return [len(meta.rows(CHECKPOINT_HISTORY)), len(meta.rows("SyncAuditLog"))]


def test_pre_purge_checkpoint_never_expires(store):
    meta = MetadataStore(store)
    kept = create_checkpoint(meta, "pre_purge_x", CheckpointType.PRE_PURGE, {"a": 0}, NOW, "p")
    assert kept.permanent and kept.retention_date == KEEP_FOREVER
    assert meta.rows(CHECKPOINT_HISTORY)[0]["KeepForever"] is True
    expired, active = enforce_retention(meta, RUN, NOW + dt.timedelta(days=5000))
    assert expired == [] and [c.name for c in active] == ["pre_purge_x"]


def test_manual_checkpoint_keeps_the_days_asked_or_forever(config, store):
    meta = MetadataStore(store)
    short = manual(config, store, "short", retain_days=3)
    assert short.retention_date == dt.date(2026, 3, 4) and not short.permanent
    forever = manual(config, store, "forever", keep_forever=True)
    assert forever.permanent and forever.expires() == "never (permanent)"
    expired, _ = enforce_retention(meta, RUN, NOW + dt.timedelta(days=400))
    assert [c.name for c in expired] == ["short"]
    assert [c.name for c in list_checkpoints(meta)] == ["forever"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retain_days": 0}, "use 1 to 36500 days"),
        ({"retain_days": -5}, "use 1 to 36500 days"),
        ({"retain_days": 10, "keep_forever": True}, "not both"),
    ],
)
def test_nonsensical_retention_is_refused_and_writes_nothing(config, store, options, message):
    with pytest.raises(CheckpointUsageError, match=message) as raised:
        manual(config, store, **options)
    assert raised.value.exit_code == 2
    assert snapshot(MetadataStore(store)) == [0, 0]


def test_permanent_checkpoint_is_never_superseded_by_the_same_name(config, store):
    meta = MetadataStore(store)
    manual(config, store, keep_forever=True)
    before = snapshot(meta)
    with pytest.raises(CheckpointUsageError, match="checkpoint retire keep"):
        manual(config, store)
    assert snapshot(meta) == before and list_checkpoints(meta)[0].permanent


def test_retire_ends_a_permanent_checkpoint_and_audits_who_and_why(config, store):
    meta = MetadataStore(store)
    manual(config, store, keep_forever=True)
    later = NOW + dt.timedelta(days=1)
    retired = retire_checkpoint(meta, "keep", later, "ops-lead", "superseded by audit 2026", RUN)
    assert not retired.is_active and list_checkpoints(meta) == []
    (row,) = meta.rows(CHECKPOINT_HISTORY)
    assert row["IsActive"] is False and row["RetentionDate"] == dt.date(2026, 3, 2)
    assert "retired 2026-03-02 00:00 UTC by ops-lead: superseded by audit 2026" in row["Notes"]
    (audit,) = [r for r in meta.rows("SyncAuditLog") if r["Operation"] == RETIRED]
    assert audit["PipelineRunId"] == "run-retire" and "keep (a)" in audit["Notes"]
    manual(config, store)  # the name is free again
    assert [c.permanent for c in list_checkpoints(meta)] == [False]


@pytest.mark.parametrize(
    ("name", "message"),
    [("ghost", "'ghost' does not exist"), ("short", "is not permanent")],
)
def test_retiring_unknown_or_non_permanent_checkpoint_writes_nothing(config, store, name, message):
    meta = MetadataStore(store)
    manual(config, store, "short")
    before = snapshot(meta)
    with pytest.raises(CheckpointUsageError, match=message) as raised:
        retire_checkpoint(meta, name, NOW, "me", "why", RUN)
    assert raised.value.exit_code == 2 and snapshot(meta) == before


def test_history_written_before_keep_forever_existed_still_works(config, store):
    meta = MetadataStore(store)
    old_schema = pa.schema([f for f in SCHEMAS[CHECKPOINT_HISTORY] if f.name != "KeepForever"])
    old = manual(config, store, "old").to_row()
    del old["KeepForever"]
    write_deltalake(
        meta.uri(CHECKPOINT_HISTORY),
        pa.Table.from_pylist([old], schema=old_schema),
        mode="overwrite",
        schema_mode="overwrite",
    )
    assert [c.permanent for c in list_checkpoints(meta)] == [False]
    manual(config, store, "new", keep_forever=True)  # the column is added by the append
    kinds = {c.name: c.permanent for c in list_checkpoints(meta)}
    assert kinds == {"old": False, "new": True}
    expired, _ = enforce_retention(meta, RUN, NOW + dt.timedelta(days=400))
    assert [c.name for c in expired] == ["old"]


def test_a_table_keeps_its_daily_checkpoints_as_long_as_its_setting_says(
    pg_engine, pg_schema, make_config, harness_for
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    h = harness_for(make_config([account.config(daily_checkpoint_retention_days=3)]))
    h.now = dt.datetime(2026, 12, 6, 6, 0, tzinfo=dt.UTC)
    h.sync(partition="2026-12-06")
    (daily,) = list_checkpoints(h.meta, kind=CheckpointType.DAILY)
    assert daily.retention_date == dt.date(2026, 12, 9)
    assert h.state()["DailyCheckpointRetentionDays"] == 3
