"""Delta retention properties: set when a bronze table is created, repaired when they drift."""

from __future__ import annotations

import shutil

import pytest
from deltalake import write_deltalake

from bronze_sync.bronze.properties import (
    DELETED_FILE_RETENTION,
    LOG_RETENTION,
    retention_days,
)
from bronze_sync_tests.helpers import PgTable


@pytest.fixture
def account(pg_engine, pg_schema):
    table = PgTable(pg_engine, pg_schema)
    table.insert_ids(["a", "b", "c"])
    return table


def properties(h):
    return h.delta().metadata().configuration


def test_new_tables_get_the_default_retention(account, make_config, harness_for):
    h = harness_for(make_config([account.config()]))
    h.sync()
    assert properties(h) == {
        LOG_RETENTION: "interval 400 days",
        DELETED_FILE_RETENTION: "interval 7 days",
    }


def test_settings_come_from_defaults_and_tables(account, make_config, harness_for):
    config = make_config(
        [account.config(log_retention_days=730)], defaults={"deleted_file_retention_days": 14}
    )
    h = harness_for(config)
    h.sync()
    assert properties(h)[LOG_RETENTION] == "interval 730 days"
    assert properties(h)[DELETED_FILE_RETENTION] == "interval 14 days"


def test_drifted_properties_are_repaired_on_the_next_sync(account, make_config, harness_for):
    h = harness_for(make_config([account.config()]))
    h.sync()
    h.delta().alter.set_table_properties({LOG_RETENTION: "interval 30 days"})
    account.insert_ids(["d"])
    result = h.sync()
    assert result.properties_repaired == [f"{LOG_RETENTION}: interval 30 days -> interval 400 days"]
    assert properties(h)[LOG_RETENTION] == "interval 400 days"
    assert result.inserted == 1 and h.bronze().num_rows == 4
    checks = [r for r in h.meta.rows("SyncAuditLog") if r["Operation"] == "SchemaCheck"]
    latest = max(checks, key=lambda r: r["CreatedDate"])
    assert "table properties repaired: delta.logRetentionDuration" in latest["Notes"]
    assert h.sync().properties_repaired == []  # verified, nothing to do


def test_a_table_created_outside_bronze_sync_gets_them(account, make_config, harness_for):
    h = harness_for(make_config([account.config()]))
    h.sync()
    uri = h.store.table_uri("account")
    plain = h.bronze().select(["id", "name", "amount", "createdon", "modifiedon"])
    shutil.rmtree(uri)
    write_deltalake(uri, plain)  # someone's own copy: no tracking columns, no properties
    result = h.sync()
    assert result.tracking_added
    assert properties(h) == {
        LOG_RETENTION: "interval 400 days",
        DELETED_FILE_RETENTION: "interval 7 days",
    }


def test_retention_days_reads_delta_intervals():
    assert retention_days("interval 400 days") == 400
    assert retention_days("interval 2 weeks") == 14
    assert retention_days("interval 36 hours") == 1.5
    assert retention_days(None) is None and retention_days("banana") is None
    assert retention_days("interval 3 fortnights") is None
