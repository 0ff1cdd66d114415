"""purge_window_days: old rows are PURGE only when they vanish soon after the purge was recorded."""

from __future__ import annotations

import datetime as dt

import pytest

from bronze_sync.metadata import RunInfo
from bronze_sync.purge import PurgeRequest, run_purge
from bronze_sync_tests.helpers import PgTable, years_ago
from bronze_sync_tests.purge.test_purge_request import Alerts

RECORDED = dt.datetime.now(dt.UTC).replace(microsecond=0)
PURGE_DAY = years_ago(5).date()


@pytest.fixture
def account(pg_engine, pg_schema):
    table = PgTable(pg_engine, pg_schema)
    table.insert_ids([f"old{i}" for i in range(4)], created=years_ago(7))
    table.insert_ids([f"new{i}" for i in range(20)], created=years_ago(1))
    return table


def recorded_purge(account, make_config, harness_for, **settings):
    h = harness_for(make_config([account.config(**settings)]))
    h.now = RECORDED - dt.timedelta(days=1)
    h.sync()
    request = PurgeRequest(purge_date=PURGE_DAY, tables=("account",))
    run_purge(h.config, h.store, request, RunInfo("p", "purge_metadata_update"), RECORDED, Alerts())
    return h


def vanish_after(h, account, key, days):
    account.delete([key])
    h.now = RECORDED + dt.timedelta(days=days)
    result = h.sync()
    return "PURGE" if result.purged else "DELETE" if result.deleted else None


def test_old_rows_vanishing_inside_the_window_are_purged_later_ones_deleted(
    account, make_config, harness_for
):
    h = recorded_purge(account, make_config, harness_for, purge_window_days=30)
    assert vanish_after(h, account, "old0", 1) == "PURGE"
    assert vanish_after(h, account, "old1", 30) == "PURGE"  # the window's last day counts
    assert vanish_after(h, account, "old2", 31) == "DELETE"
    assert vanish_after(h, account, "new0", 2 * 365) == "DELETE"
    rows = {r["id"]: r for r in h.bronze().to_pylist()}
    assert rows["old2"]["IsDeleted"] and not rows["old2"]["IsPurged"]
    assert rows["old0"]["IsPurged"] and rows["old0"]["PurgedDate"] == RECORDED + dt.timedelta(
        days=1
    )


def test_without_a_window_the_purge_date_applies_forever(account, make_config, harness_for):
    h = recorded_purge(account, make_config, harness_for)
    assert vanish_after(h, account, "old0", 400) == "PURGE"
    assert vanish_after(h, account, "new0", 401) == "DELETE"
