"""Comparing two table versions in spilled key partitions gives the in-memory comparison."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.bronze.tracking import IS_DELETED, IS_PURGED, SyncOp, live_rows
from bronze_sync.config.models import BronzeConfig
from bronze_sync.rollback.compare import compare_versions

NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def _rows(ids: range, value: str) -> pa.Table:
    keys = [f"k{i:04d}" for i in ids]
    data = pa.table({"id": keys, "part": [i % 2 for i in ids], "v": [f"{value}{i}" for i in ids]})
    return live_rows(data, SyncOp.INSERT, NOW)


def _flag(rows: pa.Table, column: str, every: int) -> pa.Table:
    mask = pa.array([i % every == 0 for i in range(rows.num_rows)])
    return rows.set_column(rows.schema.get_field_index(column), column, pc.or_(mask, rows[column]))


def test_partitioned_comparison_equals_the_in_memory_one(tmp_path):
    store = BronzeStore.from_config(BronzeConfig(path=str(tmp_path)))
    uri = store.table_uri("t")
    write_deltalake(uri, _rows(range(0, 300), "a"), mode="overwrite")  # version 0
    changed = pa.concat_tables([_rows(range(0, 100), "a"), _rows(range(100, 250), "b")])
    changed = _flag(_flag(changed, IS_DELETED, 7), IS_PURGED, 11)
    later = pa.concat_tables([changed, _rows(range(400, 420), "new")])
    write_deltalake(uri, later, mode="overwrite")  # version 1: 50 gone, 20 new, changes, flags

    keys = ["id", "part"]
    whole = compare_versions(store, "t", keys, 1, 0)
    for parts in (2, 8, 64):
        assert compare_versions(store, "t", keys, 1, 0, parts=parts) == whole
    assert (whole.removed, whole.restored) == (20, 50)
    assert whole.value_changes == 150 and whole.counts_from["total"] == 270
    assert whole.samples["restored"][:2] == ["k0250|0", "k0251|1"]
