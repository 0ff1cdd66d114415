"""PipelineConfig follows the YAML and keeps operational state."""

from __future__ import annotations

import datetime as dt

import pytest

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config import parse_config
from bronze_sync.errors import MetadataError
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.pipeline_config import read_all, record_purge, sync_declared, update_state

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def config(tables: str):
    return parse_config(
        f"source: {{kind: sql, url: 'sqlite://'}}\nbronze: {{path: /x}}\ntables: {tables}", {}
    )


def test_yaml_sync_keeps_state_and_disables_removed_tables(tmp_path):
    meta = MetadataStore(BronzeStore(str(tmp_path)))
    first = config(
        "[{name: a, source: s.a, primary_key: id}, {name: b, source: b, primary_key: id}]"
    )
    sync_declared(meta, first, NOW)
    record_purge(meta, first.tables[0], dt.datetime(2021, 1, 1, tzinfo=dt.UTC), NOW, 10)
    update_state(meta, first.tables[0], NOW, LastSyncStatus="Success")
    later = config("[{name: a, source: s.a, primary_key: [id, n], track_deletes: false}]")
    sync_declared(meta, later, NOW + dt.timedelta(days=1))
    rows = read_all(meta)
    assert rows["a"]["PrimaryKeyColumn"] == "id,n" and rows["a"]["TrackDeletes"] is False
    assert rows["a"]["LastPurgeDate"] == dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    assert rows["a"]["PurgeRecordCount"] == 10 and rows["a"]["LastSyncStatus"] == "Success"
    assert rows["a"]["SchemaName"] == "s" and rows["a"]["CreatedDate"] == NOW
    assert rows["b"]["SyncEnabled"] is False and rows["b"]["Notes"] == "not in config"


def test_purge_counts_accumulate_and_dates_must_be_aware(tmp_path):
    meta = MetadataStore(BronzeStore(str(tmp_path)))
    table = config("[{name: a, source: a, primary_key: id}]").tables[0]
    record_purge(meta, table, dt.datetime(2020, 1, 1, tzinfo=dt.UTC), NOW, 5)
    row = record_purge(meta, table, dt.datetime(2021, 1, 1, tzinfo=dt.UTC), NOW, 7)
    assert row["PurgeRecordCount"] == 12
    with pytest.raises(MetadataError, match="timezone-aware"):
        record_purge(meta, table, dt.datetime(2021, 1, 1), NOW)
