"""Column-scoped metadata writes: a writer holding a stale row cannot undo another's change."""

from __future__ import annotations

import datetime as dt

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.pipeline_config import DECLARED_COLUMNS

NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def test_upsert_of_some_columns_keeps_the_others_and_inserts_whole_rows(tmp_path):
    meta = MetadataStore(BronzeStore(str(tmp_path)))
    meta.upsert("PipelineConfig", [{"TableName": "a", "LastSyncStatus": "Success"}], ["TableName"])
    stale = meta.rows("PipelineConfig")[0]
    # Meanwhile a purge is recorded for the table...
    meta.upsert(
        "PipelineConfig",
        [{"TableName": "a", "LastPurgeDate": NOW, "PurgeRecordCount": 7}],
        ["TableName"],
        columns=["LastPurgeDate", "PurgeRecordCount"],
    )
    # ...and the sync writes its state from the row it read before.
    meta.upsert(
        "PipelineConfig",
        [{**stale, "LastSyncStatus": "Failed"}, {"TableName": "b", "LastSyncStatus": "Success"}],
        ["TableName"],
        columns=[*DECLARED_COLUMNS, "LastSyncStatus"],
    )
    rows = {r["TableName"]: r for r in meta.rows("PipelineConfig")}
    assert rows["a"]["LastSyncStatus"] == "Failed"
    assert rows["a"]["LastPurgeDate"] == NOW and rows["a"]["PurgeRecordCount"] == 7
    assert rows["b"]["LastSyncStatus"] == "Success"


def test_update_never_inserts(tmp_path):
    meta = MetadataStore(BronzeStore(str(tmp_path)))
    meta.update("PipelineConfig", [{"TableName": "a", "Notes": "x"}], ["TableName"], ["Notes"])
    assert meta.rows("PipelineConfig") == []
    meta.upsert(
        "PipelineConfig", [{"TableName": "a", "Notes": "x", "PurgeRecordCount": 1}], ["TableName"]
    )
    meta.update(
        "PipelineConfig",
        [{"TableName": "a", "Notes": "y"}, {"TableName": "zz", "Notes": "q"}],
        ["TableName"],
        ["Notes"],
    )
    assert [
        (r["TableName"], r["Notes"], r["PurgeRecordCount"]) for r in meta.rows("PipelineConfig")
    ] == [("a", "y", 1)]
