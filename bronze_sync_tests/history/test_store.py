"""The history table's coverage record: read from the snapshot, past maintenance commits."""

from __future__ import annotations

import pytest

from bronze_sync.errors import VersionRangeError
from bronze_sync.history import read_changes, version_range
from bronze_sync.history.columns import history_uri
from bronze_sync.history.store import Coverage, coverage_of


def test_a_reader_sees_the_coverage_of_its_own_snapshot_while_a_sync_appends(account, h):
    account.insert_ids(["a", "b"])
    h.sync()
    snapshot = h.store.open(history_uri(h.store, "account"))
    account.update(["a"], name="changed")
    h.sync()  # appends version 1 after the snapshot was loaded
    assert coverage_of(snapshot) == Coverage(0, 0, True)
    assert coverage_of(h.store.open(history_uri(h.store, "account"))) == Coverage(0, 1, True)


def test_coverage_is_found_past_optimize_and_vacuum_commits(account, h):
    for i in range(3):
        account.insert_ids([f"k{i}"])
        h.sync()
    history = h.store.open(history_uri(h.store, "account"))
    history.optimize.compact()
    history.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    reopened = h.store.open(history_uri(h.store, "account"))
    assert coverage_of(reopened) == Coverage(0, 2, True)
    assert read_changes(h.store, "account", 0).read_all().num_rows == 2


def test_change_feed_names_the_range_it_served_and_refuses_versions_outside_it(account, h):
    account.insert_ids(["a", "b"])
    h.sync()
    account.update(["b"], name="changed")
    h.sync()
    feed = read_changes(str(h.store.root), "account", since_version=0)
    assert feed.schema.metadata[b"bronze_sync.until_version"] == b"1"
    assert [r["id"] for r in feed.read_all().to_pylist()] == ["b"]
    assert (
        version_range(h.store, "account").oldest_since,
        version_range(h.store, "account").current,
    ) == (-1, 1)
    with pytest.raises(
        VersionRangeError, match=r"above the current version 1.*since-version -1\.\.1"
    ):
        read_changes(h.store, "account", since_version=2)
    with pytest.raises(VersionRangeError, match="below the oldest"):
        read_changes(h.store, "account", since_version=-2)
    with pytest.raises(VersionRangeError, match="until-version 5"):
        read_changes(h.store, "account", since_version=0, until_version=5)
