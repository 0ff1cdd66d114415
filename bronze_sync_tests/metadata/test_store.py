"""Metadata tables: appends and upserts survive concurrent writers; nothing is lost."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import multiprocessing.synchronize

import pytest

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.errors import MetadataError
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.metadata.audit import AuditEntry, write_audit
from bronze_sync.metadata.schemas import PIPELINE_CONFIG, ROLLBACK_APPROVALS, SYNC_AUDIT_LOG

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _write_many(root: str, worker: int, count: int) -> None:
    meta = MetadataStore(BronzeStore(root))
    for i in range(count):
        entry = AuditEntry("DataSync", f"table{worker}", NOW, notes=str(i))
        write_audit(meta, RunInfo(run_id=f"run{worker}"), [entry], NOW)


@pytest.mark.slow
def test_concurrent_processes_lose_no_audit_row(tmp_path):
    # spawn: the Delta runtime does not survive fork.
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_write_many, args=(str(tmp_path), w, 8)) for w in range(5)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=300)
        assert p.exitcode == 0
    log = MetadataStore(BronzeStore(str(tmp_path))).read(SYNC_AUDIT_LOG)
    assert log.num_rows == 40
    assert sorted(set(log.column("TableName").to_pylist())) == [f"table{w}" for w in range(5)]


def _claim(root: str, worker: int, start: multiprocessing.synchronize.Event) -> None:
    meta = MetadataStore(BronzeStore(root))
    row = {"TokenHash": "same-token", "RollbackId": f"worker{worker}", "UsedDate": NOW}
    start.wait()
    meta.insert_new(ROLLBACK_APPROVALS, [row], keys=["TokenHash"])


@pytest.mark.slow
def test_concurrent_inserts_of_one_key_land_exactly_one_row(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    workers = [ctx.Process(target=_claim, args=(str(tmp_path), w, start)) for w in range(4)]
    for p in workers:
        p.start()
    start.set()  # the table does not exist yet: creating it is part of the race
    for p in workers:
        p.join(timeout=300)
        assert p.exitcode == 0
    meta = MetadataStore(BronzeStore(str(tmp_path)))
    (row,) = meta.rows(ROLLBACK_APPROVALS)
    meta.insert_new(ROLLBACK_APPROVALS, [{**row, "RollbackId": "late"}], keys=["TokenHash"])
    assert meta.rows(ROLLBACK_APPROVALS) == [row]  # the first writer's row is kept


def test_read_of_missing_table_is_empty_with_schema(tmp_path):
    data = MetadataStore(BronzeStore(str(tmp_path))).read(PIPELINE_CONFIG)
    assert data.num_rows == 0 and "LastPurgeDate" in data.column_names


def test_upsert_replaces_by_key(tmp_path):
    meta = MetadataStore(BronzeStore(str(tmp_path)))
    meta.upsert(PIPELINE_CONFIG, [{"TableName": "a", "Notes": "one"}], ["TableName"])
    meta.upsert(
        PIPELINE_CONFIG, [{"TableName": "a", "Notes": "two"}, {"TableName": "b"}], ["TableName"]
    )
    rows = {r["TableName"]: r["Notes"] for r in meta.rows(PIPELINE_CONFIG)}
    assert rows == {"a": "two", "b": None}


def test_unknown_column_is_refused(tmp_path):
    meta = MetadataStore(BronzeStore(str(tmp_path)))
    with pytest.raises(MetadataError, match="has no column"):
        meta.append(SYNC_AUDIT_LOG, [{"Bogus": 1}])
