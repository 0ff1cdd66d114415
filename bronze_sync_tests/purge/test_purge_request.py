"""Recording a purge refuses bad requests with every problem listed, and writes nothing."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from bronze_sync.config import parse_tables
from bronze_sync.metadata import RunInfo
from bronze_sync.purge import (
    PurgeRequest,
    PurgeValidationError,
    parse_purge_date,
    run_purge,
)
from bronze_sync_tests.helpers import PgTable, years_ago

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


class Alerts:
    def __init__(self):
        self.sent = []

    def send(self, alert):
        self.sent.append(alert)


def listing(root):
    """Every file under `root` with its size and mtime: any write changes it."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            stat = os.stat(path)
            out[path] = (stat.st_size, stat.st_mtime_ns)
    return out


@pytest.fixture
def setup(pg_engine, pg_schema, make_config, harness_for):
    account = PgTable(pg_engine, pg_schema)
    donation = PgTable(pg_engine, pg_schema, "donation")
    account.insert_ids(["a1", "a2"], created=years_ago(7))
    donation.insert_ids(["d1"], created=years_ago(7))
    unsynced = PgTable(pg_engine, pg_schema, "unsynced")
    config = make_config(
        [
            account.config(),
            donation.config(),
            unsynced.config(),
            {"name": "nocreated", "source": account.source, "primary_key": "id"},
            account.config(name="untracked", track_deletes=False),
        ]
    )
    h = harness_for(config)
    for name in ["account", "donation", "nocreated", "untracked"]:
        h.sync(name)
    return h


def purge(h, **kwargs):
    request = PurgeRequest(**{"purge_date": dt.date(2021, 1, 1), **kwargs})
    return run_purge(
        h.config, h.store, request, RunInfo("r1", "purge_metadata_update"), NOW, Alerts()
    )


def test_every_problem_is_listed_and_nothing_is_written(setup):
    before = listing(setup.store.root)
    with pytest.raises(PurgeValidationError) as err:
        purge(
            setup,
            purge_date=dt.date(2026, 11, 24),
            tables=("account", "ghost", "unsynced", "nocreated", "untracked"),
        )
    message = str(err.value)
    assert "nothing was written" in message
    assert "purge_date 2026-11-24 is in the future (today is 2026-11-23, UTC)" in message
    assert "unknown table 'ghost'" in message
    assert "unsynced: no bronze table at" in message
    assert "nocreated: no created_column is configured" in message
    assert "untracked: track_deletes is false" in message
    assert err.value.exit_code == 2
    assert listing(setup.store.root) == before


def test_today_is_a_valid_purge_date(setup):
    outcome = purge(setup, purge_date=NOW.date(), tables=("account",))
    assert outcome.recorded_tables == ["account"]


def test_moving_the_purge_date_backwards_needs_force(setup):
    purge(setup, purge_date=dt.date(2021, 6, 1), tables=("account",))
    before = listing(setup.store.root)
    with pytest.raises(
        PurgeValidationError, match="earlier than the recorded LastPurgeDate 2021-06-01"
    ):
        purge(setup, purge_date=dt.date(2021, 1, 1), tables=("account",))
    assert listing(setup.store.root) == before
    forced = purge(setup, purge_date=dt.date(2021, 1, 1), tables=("account",), force=True)
    assert forced.recorded_tables == ["account"]
    recorded = [r for r in setup.meta.rows("SyncAuditLog") if r["Operation"] == "PurgeRecorded"]
    assert any("forced: the purge date moved backwards" in r["Notes"] for r in recorded)


def test_all_means_every_enabled_table(setup, make_config, harness_for):
    # "All" over a config whose enabled tables are all valid purge targets.
    config = make_config(
        [setup.config.table("account").model_dump(), setup.config.table("donation").model_dump()]
    )
    h = harness_for(config)
    outcome = purge(h, tables=None)
    assert outcome.recorded_tables == ["account", "donation"]


def test_parsing_tables_and_dates():
    assert (
        parse_tables("All") is None and parse_tables(["all"]) is None and parse_tables([]) is None
    )
    assert parse_tables(" a, b ,a") == ("a", "b")
    assert parse_tables(["a", "b"]) == ("a", "b")
    assert parse_purge_date("2021-01-31") == dt.date(2021, 1, 31)
    for bad in ["2021-1-31", "31/01/2021", "yesterday", "2021-02-30"]:
        with pytest.raises(PurgeValidationError, match="is not a date YYYY-MM-DD"):
            parse_purge_date(bad)
