"""Delta table operations: create, merge (one commit with metadata), add columns, backfill."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from bronze_sync.bronze.commit import (
    add_columns,
    backfill_tracking,
    create_table,
    last_commit_metadata,
)
from bronze_sync.bronze.reader import count_flags, read_state
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.bronze.tracking import SyncOp, live_rows
from bronze_sync.errors import CommitConflictError

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path):
    return BronzeStore(str(tmp_path))


def rows(ids, op=SyncOp.INSERT, name="x"):
    return live_rows(pa.table({"id": ids, "name": [name] * len(ids)}), op, NOW)


def create(store, ids):
    data = rows(ids)
    reader = pa.RecordBatchReader.from_batches(data.schema, data.to_batches())
    return create_table(store, store.table_uri("t"), reader, {"run_id": "r0"})


def test_create_table_carries_commit_metadata(store):
    table = create(store, ["a", "b"])
    assert table.version() == 0 and table.count() == 2
    assert last_commit_metadata(table)["run_id"] == "r0"


def test_second_create_is_a_conflict(store):
    create(store, ["a"])
    with pytest.raises(CommitConflictError):
        create(store, ["b"])


def test_add_columns_is_metadata_only(store):
    table = create(store, ["a"])
    add_columns(table, [pa.field("city", pa.string())])
    assert "city" in table.to_pyarrow_dataset().schema.names
    assert table.to_pyarrow_table().column("city").to_pylist() == [None]


def test_backfill_gives_legacy_rows_live_defaults(store):
    from deltalake import write_deltalake

    write_deltalake(store.table_uri("t"), pa.table({"id": ["a", "b"]}))
    table = store.open(store.table_uri("t"))
    from bronze_sync.bronze.tracking import TRACKING_FIELDS

    add_columns(table, TRACKING_FIELDS)
    assert backfill_tracking(table, NOW) == 2
    data = table.to_pyarrow_table()
    assert data.column("IsDeleted").to_pylist() == [False, False]
    assert data.column("LastSynced").to_pylist() == [NOW, NOW]
    assert count_flags(table) == {"total": 2, "active": 2, "deleted": 0, "purged": 0}


def test_read_state_gives_watermark_and_fragments(store):
    from deltalake import write_deltalake

    table = create(store, ["a"])
    write_deltalake(table, rows(["b"]), mode="append")
    state = read_state(table, ["id"], None, "LastSynced")
    assert state.watermark == NOW and state.rows.num_rows == 2
    assert sorted(state.rows.column("__bronze_sync_fragment").to_pylist()) == [0, 1]
