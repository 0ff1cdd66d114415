"""The post-rollback check counts rows, flags, null and repeated keys across batches."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.bronze.tracking import DELETED_DATE, IS_DELETED, IS_PURGED, SyncOp, live_rows
from bronze_sync.config.models import BronzeConfig
from bronze_sync.rollback import postcheck
from bronze_sync.rollback.postcheck import check_restored

NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def _rows(ids: list[str | None]) -> pa.Table:
    return live_rows(
        pa.table({"id": pa.array(ids, pa.string()), "v": list(range(len(ids)))}), SyncOp.INSERT, NOW
    )


@pytest.mark.parametrize("batch_rows", [3, 1_000])
def test_figures_and_repeats_add_up_over_batches_and_files(tmp_path, monkeypatch, batch_rows):
    monkeypatch.setattr(postcheck, "BATCH_ROWS", batch_rows)
    store = BronzeStore.from_config(BronzeConfig(path=str(tmp_path)))
    uri = store.table_uri("t")
    first = _rows([f"k{i}" for i in range(10)] + ["k1", "k2", None])
    deleted = pa.array([i % 4 == 0 for i in range(first.num_rows)])
    first = first.set_column(first.schema.get_field_index(IS_DELETED), IS_DELETED, deleted)
    write_deltalake(uri, first, mode="overwrite")
    write_deltalake(uri, _rows(["k1", "k20", "k21", None]), mode="append")

    check = check_restored(
        store, "t", 1, ["id"], {"total": 17, "active": 13, "deleted": 4, "purged": 0}
    )
    assert check.counts == {"total": 17, "active": 13, "deleted": 4, "purged": 0}
    # k1 three times, k2 twice, the null key twice: four repeats.
    assert "4 duplicate key(s)" in check.problems
    assert "2 row(s) with a null key" in check.problems
    assert f"4 IsDeleted row(s) without {DELETED_DATE}" in check.problems
    assert not any("!=" in p for p in check.problems)


def test_a_clean_table_passes(tmp_path, monkeypatch):
    monkeypatch.setattr(postcheck, "BATCH_ROWS", 4)
    store = BronzeStore.from_config(BronzeConfig(path=str(tmp_path)))
    rows = _rows([f"k{i}" for i in range(11)])
    purged = pc.equal(rows.column("v"), 3)
    rows = rows.set_column(rows.schema.get_field_index(IS_PURGED), IS_PURGED, purged)
    rows = rows.set_column(
        rows.schema.get_field_index("PurgedDate"),
        "PurgedDate",
        pc.if_else(purged, pa.scalar(NOW, rows.schema.field("PurgedDate").type), None),
    )
    write_deltalake(store.table_uri("t"), rows, mode="overwrite")
    expected = {"total": 11, "active": 10, "deleted": 0, "purged": 1}
    check = check_restored(store, "t", 0, ["id"], expected)
    assert check.passed, check.problems
    assert check.counts == expected
