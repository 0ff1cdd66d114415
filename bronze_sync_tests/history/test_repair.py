"""A crash or a failed append between the bronze commit and the history append is repaired."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from deltalake import DeltaTable

from bronze_sync.history.columns import history_uri
from bronze_sync.history.store import read_coverage
from bronze_sync.validation import evaluate_table
from bronze_sync_tests.history.conftest import history_table
from bronze_sync_tests.history.oracle import assert_history_matches_time_travel
from bronze_sync_tests.sync.children import run_child

KILLED = -9


def history_check(h):
    table = h.config.tables[0]
    [result] = evaluate_table(h.store, h.meta, table, dt.datetime.now(dt.UTC), ["history_complete"])
    return result


@pytest.mark.slow
def test_kill_between_the_bronze_commit_and_the_history_append_is_repaired(
    account, make_config, harness_for
):
    config = make_config([account.config(max_delete_fraction=1)])
    h = harness_for(config)
    account.insert_ids(f"k{i:04d}" for i in range(300))
    h.sync()
    account.update([f"k{i:04d}" for i in range(40)], name="changed")
    account.delete(["k0299"])
    assert run_child(config.file, "after_commit").returncode == KILLED
    crashed = h.delta().version()
    assert read_coverage(h.store, "account").through == crashed - 1
    failing = history_check(h)
    assert not failing.passed and f"versions {crashed}..{crashed}" in failing.message

    after = h.sync()
    assert not after.committed  # the crashed run's commit already holds the changes
    assert read_coverage(h.store, "account").through == crashed
    assert_history_matches_time_travel(str(h.delta_dir()), history_table(h), ["id"], 0, crashed)
    rows = [r for r in history_table(h).to_pylist() if r["BronzeVersion"] == crashed]
    assert len(rows) == 41 and {r["Operation"] for r in rows} == {"UPDATE", "DELETE"}
    assert history_check(h).passed


def test_a_failed_history_append_leaves_the_sync_good_and_the_next_sync_repairs_it(
    account, h, bronze_root
):
    bronze_root.mkdir(parents=True)
    blocker = bronze_root / "history"
    blocker.write_text("not a folder")  # the history table cannot be created here
    account.insert_ids(["a", "b"])
    first = h.sync()
    assert first.committed and first.history_error and "next sync repairs" in first.history_error
    assert not history_check(h).passed
    blocker.unlink()
    account.update(["a"], name="changed")
    second = h.sync()
    assert second.history_error is None
    assert (second.history_first, second.history_through) == (0, second.version)
    assert second.history_rows == {0: 2, 1: 1}
    assert_history_matches_time_travel(str(h.delta_dir()), history_table(h), ["id"], 0, 1)
    assert history_check(h).passed


def test_a_lost_history_table_is_rebuilt_from_the_log_by_the_next_sync(account, h, bronze_root):
    account.insert_ids(["a", "b", "c"])
    h.sync()
    account.delete(["c"])
    h.sync()
    before = history_table(h).sort_by([("BronzeVersion", "ascending"), ("id", "ascending")])
    shutil.rmtree(bronze_root / "history" / "account")
    account.insert_ids(["d"])
    h.sync()
    rebuilt = history_table(h).sort_by([("BronzeVersion", "ascending"), ("id", "ascending")])
    assert rebuilt.filter(rebuilt.column("BronzeVersion").to_numpy() < 2).to_pylist() == (
        before.to_pylist()
    )
    assert history_check(h).passed


def test_history_check_fails_when_the_row_counts_differ_from_the_commit(account, h):
    account.insert_ids(["a", "b"])
    h.sync()
    account.update(["a", "b"], name="changed")
    h.sync()
    DeltaTable(history_uri(h.store, "account")).delete("\"BronzeVersion\" = 1 AND id = 'a'")
    result = history_check(h)
    assert not result.passed and "v1: 1 history rows, the commit changed 2" in result.message
