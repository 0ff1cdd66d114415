"""A sync with nothing to do is proven from the saved key state, without reading bronze."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from bronze_sync.diff.key_state import KeyState
from bronze_sync.maintenance.operations import optimize_table
from bronze_sync.metadata.pipeline_config import update_state
from bronze_sync.sync.noop import KEY_STATE, PROVEN
from bronze_sync_tests.helpers import PgTable

KEYS = [f"k{i:03d}" for i in range(200)]
OLD = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def account(pg_engine, pg_schema):
    table = PgTable(pg_engine, pg_schema)
    table.insert_ids(KEYS)
    return table


@pytest.fixture
def synced(account, make_config, harness_for):
    """Return a harness whose table had its initial load and one sync (which saves a state)."""
    h = harness_for(make_config([account.config(max_delete_fraction=1)]))
    h.sync()
    h.sync()
    return h


@contextmanager
def data_files_away(folder: Path) -> Iterator[None]:
    """Move the table's Parquet files aside, so that reading any of them fails."""
    aside = folder.parent / f"{folder.name}.aside"
    aside.mkdir()
    moved = [p for p in folder.glob("*.parquet")]
    for path in moved:
        shutil.move(path, aside / path.name)
    try:
        yield
    finally:
        for path in moved:
            shutil.move(aside / path.name, path)
        aside.rmdir()


def test_a_day_without_changes_reads_no_data_file(synced, account):
    account.update(KEYS[:5])
    synced.sync()  # a sync that commits saves the state of the version it writes
    with data_files_away(synced.delta_dir()):
        result = synced.sync()
    assert (result.key_path, result.key_path_reason, result.committed) == (
        "checksum",
        PROVEN,
        False,
    )
    # Every row was written within the hour: the overlap window re-reads all of them.
    assert (result.extracted_rows, result.unmodified, result.source_rows) == (200, 200, 200)
    assert result.counts["active"] == 200 and "state" not in result.phases
    assert result.metadata()["delete_detection_reason"] == PROVEN


def test_each_kind_of_change_falls_back_to_the_full_path(synced, account):
    changes = [
        (lambda: account.update(["k001"]), True),  # inside the overlap window
        (lambda: account.delete(["k002"]), True),
        (lambda: account.insert([{"id": "old", "modifiedon": OLD}]), True),  # back-dated
        # A row moved back out of the window: the full path keeps bronze's newer version
        # (a stale read), as it would without a key state.
        (lambda: account.update(["k004"], modifiedon=OLD), False),
    ]
    for change, commits in changes:
        assert synced.sync().key_path_reason == PROVEN
        change()
        result = synced.sync()
        assert result.key_path_reason != PROVEN and result.committed is commits
    # bronze holds k004 newer than the source's: its row stays outside what the window re-reads,
    # so later no-ops take the full path (correct, slower) until k004 changes again.
    assert synced.sync().key_path_reason != PROVEN
    bronze = synced.bronze().to_pylist()
    active = {r["id"] for r in bronze if not (r["IsDeleted"] or r["IsPurged"])}
    assert active == set(account.ids())


def test_a_failed_proof_extracts_the_changed_rows_once(synced, account, monkeypatch):
    account.update(["k001", "k002"])
    reads = []
    read_rows = synced.source.read_rows

    def counted(*args):
        reads.append(args[2])  # `since`
        return read_rows(*args)

    monkeypatch.setattr(synced.source, "read_rows", counted)
    result = synced.sync()
    assert result.updated == 2 and len(reads) == 1


def test_another_writers_version_is_read_in_full(synced):
    optimize_table(synced.delta(), "account", ["id"], dry_run=False)
    result = synced.sync()
    assert result.key_path_reason != PROVEN
    assert synced.sync().key_path_reason == PROVEN  # the full path saved the new version's


def test_a_recreated_table_does_not_reuse_the_old_tables_state(synced):
    saved = KeyState.from_json(synced.state()[KEY_STATE])
    assert saved is not None and saved.version == synced.delta().version()
    shutil.rmtree(synced.delta_dir())
    synced.sync()  # initial load of a new table: its versions start again at 0
    assert synced.sync().key_path_reason != PROVEN
    fresh = KeyState.from_json(synced.state()[KEY_STATE])
    assert fresh is not None and fresh.table_id != saved.table_id


def forget_key_state(h, value: str = "") -> None:
    """Overwrite the table's saved key state, so that its next sync reads bronze."""
    update_state(h.meta, h.config.tables[0], dt.datetime.now(dt.UTC), **{KEY_STATE: value})


@pytest.mark.parametrize("parts", [1, 4])
def test_the_state_a_commit_computes_equals_the_state_read_back(synced, account, parts):
    old = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    account.update(KEYS[10:20])
    account.delete(KEYS[20:25])
    account.insert([{"id": "late", "createdon": old, "modifiedon": old}, {"id": "new"}])
    result = synced.sync(diff_partitions=parts)
    assert result.committed and (result.deleted, result.late_inserts) == (5, 1)
    computed = KeyState.from_json(synced.state()[KEY_STATE])
    forget_key_state(synced)
    assert synced.sync(diff_partitions=parts).key_path_reason != PROVEN
    read_back = KeyState.from_json(synced.state()[KEY_STATE])
    assert computed is not None and read_back is not None
    assert replace(computed, tally=replace(computed.tally, newest_us=None)) == read_back
    assert computed.tally.active == len(account.ids())


def test_a_damaged_state_costs_one_full_read(synced):
    forget_key_state(synced, "{not json")
    assert synced.sync().key_path_reason != PROVEN
    assert synced.sync().key_path_reason == PROVEN
