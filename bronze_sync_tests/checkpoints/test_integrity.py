"""A checkpoint is restorable only while its log entries and data files exist."""

from __future__ import annotations

import os

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints.integrity import check_restorable


def three_versions(tmp_path):
    store = BronzeStore(str(tmp_path))
    uri = store.table_uri("t")
    write_deltalake(uri, pa.table({"id": [1]}))
    write_deltalake(uri, pa.table({"id": [2]}), mode="overwrite")
    write_deltalake(uri, pa.table({"id": [3]}), mode="append")
    return store, uri


def test_intact_versions_are_restorable(tmp_path):
    store, _ = three_versions(tmp_path)
    assert all(check_restorable(store, "t", v).restorable for v in range(3))


def test_deleted_data_file_breaks_the_version(tmp_path):
    store, uri = three_versions(tmp_path)
    first_file = DeltaTable(uri, version=0).file_uris()[0]
    os.remove(first_file.removeprefix("file://"))
    broken = check_restorable(store, "t", 0)
    assert not broken.restorable and broken.missing_files == 1
    assert "1 data file(s) of version 0 of t are gone" in broken.reason
    assert check_restorable(store, "t", 2).restorable


def test_deleted_log_entry_breaks_the_version(tmp_path):
    store, uri = three_versions(tmp_path)
    os.remove(os.path.join(uri, "_delta_log", "00000000000000000001.json"))
    broken = check_restorable(store, "t", 1)
    assert not broken.restorable and "can no longer be loaded" in broken.reason


def test_missing_table(tmp_path):
    result = check_restorable(BronzeStore(str(tmp_path)), "nope", 0)
    assert not result.restorable and "does not exist" in result.reason
