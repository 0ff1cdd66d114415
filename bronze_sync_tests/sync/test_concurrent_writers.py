"""Writers that overlap on one table: racing processes, and a writer paused mid-sync."""

from __future__ import annotations

import os
import random
import signal

import pytest

from bronze_sync_tests.helpers import PgTable
from bronze_sync_tests.history.conftest import history_table
from bronze_sync_tests.history.oracle import assert_history_matches_time_travel
from bronze_sync_tests.sync.child import LEASE_LOST
from bronze_sync_tests.sync.children import (
    assert_mirrors_source,
    run_child,
    start_child,
    unaudited_versions,
    unreferenced_files,
    wait_stopped,
)

ROUNDS = 20


@pytest.fixture
def account(pg_engine, pg_schema):
    return PgTable(pg_engine, pg_schema)


def race(config_file: str) -> None:
    """Start two syncs of the same table at once; both must succeed."""
    children = [start_child(config_file), start_child(config_file)]
    for child in children:
        _out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err


@pytest.mark.slow
@pytest.mark.parametrize("mixed", [False, True], ids=["inserts_only", "mixed"])
def test_racing_processes_never_duplicate_or_write_stale_rows(
    mixed, account, make_config, harness_for
):
    config = make_config([account.config(max_delete_fraction=0.9)])
    account.insert_ids(f"k{i:05d}" for i in range(500))
    h = harness_for(config)
    h.sync()
    pick = random.Random(13)
    for round_ in range(ROUNDS):
        account.insert_ids(f"r{round_:02d}-{i:04d}" for i in range(250))
        if mixed:
            ids = account.ids()
            account.update(pick.sample(ids, 50), name=f"round {round_}")
            account.delete(pick.sample(ids, 20))
        race(config.file)
        assert_mirrors_source(h.bronze(), account)
    assert unaudited_versions(h) == []
    assert unreferenced_files(h.delta_dir()) == []


@pytest.mark.slow
def test_paused_writer_never_overwrites_a_newer_commit(account, make_config, harness_for):
    config = make_config([account.config()], sync={"lease_seconds": 3, "lease_wait_seconds": 120})
    account.insert_ids(f"k{i:04d}" for i in range(1000))
    h = harness_for(config)
    h.sync()
    changed = account.ids()[:90]
    account.update(changed, name="older value")
    paused = start_child(config.file, "after_extract:stop")
    wait_stopped(paused)  # it holds 'older value' for the 90 rows, staged

    account.update(changed, name="newer value")
    h.sync()  # waits for the paused writer's lease to expire, then commits the newer values
    os.kill(paused.pid, signal.SIGCONT)
    _out, err = paused.communicate(timeout=300)

    assert paused.returncode == LEASE_LOST, err
    assert "taken over by run" in err
    names = {r["id"]: r["name"] for r in h.bronze().to_pylist()}
    assert {names[k] for k in changed} == {"newer value"}
    assert_mirrors_source(h.bronze(), account)
    assert unreferenced_files(h.delta_dir()) == []


def test_a_second_writer_waits_for_the_first(account, make_config, harness_for):
    config = make_config([account.config()], sync={"lease_seconds": 30, "lease_wait_seconds": 0})
    account.insert_ids(["a", "b"])
    h = harness_for(config)
    h.sync()
    account.update(["a"], name="first")
    paused = start_child(config.file, "after_extract:stop")
    try:
        wait_stopped(paused)
        with pytest.raises(Exception, match=r"another writer holds this table: run child-"):
            h.sync()
    finally:
        paused.kill()
        paused.communicate()
    h.sync()  # the killed holder's process is gone: its lease is taken over at once
    assert_mirrors_source(h.bronze(), account)


def test_killed_writer_does_not_block_the_next_one(account, make_config, harness_for):
    config = make_config([account.config()], sync={"lease_seconds": 600, "lease_wait_seconds": 0})
    account.insert_ids(["a", "b"])
    h = harness_for(config)
    h.sync()
    account.insert_ids(["c"])
    assert run_child(config.file, "after_keys").returncode == -9
    h.sync()  # no wait: the holder's process is gone (same host)
    assert_mirrors_source(h.bronze(), account)


@pytest.mark.slow
def test_a_writer_paused_before_its_history_append_never_duplicates_history(
    account, make_config, harness_for
):
    config = make_config([account.config()], sync={"lease_seconds": 3, "lease_wait_seconds": 120})
    account.insert_ids(f"k{i:04d}" for i in range(300))
    h = harness_for(config)
    h.sync()
    account.update(account.ids()[:30], name="first")
    paused = start_child(config.file, "before_history:stop")
    wait_stopped(paused)  # its bronze commit landed; its history append is decided, not made

    account.update(account.ids()[30:40], name="second")
    h.sync()  # takes the expired lease, records the paused run's version and its own
    os.kill(paused.pid, signal.SIGCONT)
    paused.communicate(timeout=300)

    history = history_table(h)
    pairs = [(r["BronzeVersion"], r["id"]) for r in history.to_pylist()]
    assert len(pairs) == len(set(pairs)), "a version's rows were appended twice"
    last = h.delta().version()
    assert_history_matches_time_travel(str(h.delta_dir()), history, ["id"], 0, last)
