"""kill -9 at every phase of a sync, then a normal sync: bronze converges, metadata is complete,
nothing is left behind."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from bronze_sync.errors import BronzeError
from bronze_sync.faults import SYNC_POINTS
from bronze_sync.history.columns import history_uri
from bronze_sync.history.store import Coverage, read_coverage
from bronze_sync.metadata import RunInfo
from bronze_sync.metadata.schemas import DATA_VALIDATION, SYNC_AUDIT_LOG
from bronze_sync.sync.recovery import accept_lost_versions
from bronze_sync_tests.helpers import PgTable
from bronze_sync_tests.sync.children import (
    assert_mirrors_source,
    run_child,
    staging_folders,
    unaudited_versions,
    unreferenced_files,
)

KILLED = -9


@pytest.fixture
def account(pg_engine, pg_schema):
    return PgTable(pg_engine, pg_schema)


@pytest.fixture
def config(account, make_config):
    return make_config(
        [account.config(max_delete_fraction=0.5)],
        sync={"lease_seconds": 5, "lease_wait_seconds": 60},
    )


def a_days_changes(account: PgTable) -> None:
    """Insert 2,000 rows, update 600 and delete 210, as an operational system would."""
    ids = account.ids()
    account.insert_ids(f"n{i:05d}" for i in range(2000))
    account.update(ids[:600], name="changed")
    account.delete(ids[-210:])


@pytest.mark.slow
@pytest.mark.parametrize("point", SYNC_POINTS)
def test_kill_at_each_phase_then_a_normal_sync_converges(point, account, config, harness_for):
    account.insert_ids(f"k{i:05d}" for i in range(3000))
    h = harness_for(config)
    h.sync()
    a_days_changes(account)

    crashed = run_child(config.file, point)
    assert crashed.returncode == KILLED, crashed.stderr

    h.sync()
    assert_mirrors_source(h.bronze(), account)
    assert unaudited_versions(h) == []
    assert unreferenced_files(h.delta_dir()) == []
    assert staging_folders(config) == []


@pytest.mark.slow
def test_commit_without_its_metadata_is_audited_by_the_next_sync(account, config, harness_for):
    account.insert_ids(f"k{i:05d}" for i in range(3000))
    h = harness_for(config)
    h.sync()
    a_days_changes(account)
    assert run_child(config.file, "after_commit").returncode == KILLED
    crashed_version = h.delta().version()
    assert unaudited_versions(h) == [crashed_version]

    after = h.sync()
    assert after.committed is False  # the crashed run's commit already holds the changes
    audit = h.meta.read(SYNC_AUDIT_LOG).to_pylist()
    recovered = [r for r in audit if r["DeltaVersion"] == crashed_version and r["Recovered"]]
    data_sync = next(r for r in recovered if r["Operation"] == "DataSync")
    deletes = next(r for r in recovered if r["Operation"] == "DeleteDetection")
    assert "inserted=2000" in data_sync["Notes"] and "updated=600" in data_sync["Notes"]
    assert deletes["RowsDeleted"] == 210
    assert data_sync["PipelineRunId"].startswith("child-")  # the run that made the commit
    validations = h.meta.read(DATA_VALIDATION)
    assert pc.sum(pc.equal(validations.column("ValidationPassed"), True)).as_py() >= 2
    state = h.state()
    assert state["LastSyncVersion"] == crashed_version
    assert state["AuditedThroughVersion"] == crashed_version


@pytest.mark.slow
def test_killed_initial_load_leaves_no_files_behind(account, config, harness_for):
    account.insert_ids(f"k{i:05d}" for i in range(3000))
    h = harness_for(config)
    assert run_child(config.file, "after_extract").returncode == KILLED
    assert h.delta() is None  # nothing committed

    result = h.sync()
    assert result.mode == "initial"
    assert_mirrors_source(h.bronze(), account)
    assert unreferenced_files(h.delta_dir()) == []
    assert unaudited_versions(h) == []


def two_syncs_then_lose_the_newest_log_entry(account, config, harness_for):
    """Sync twice, then delete the newest `_delta_log` entry; return the harness and version."""
    account.insert_ids(["a", "b"])
    h = harness_for(config)
    h.sync()
    account.insert_ids(["c"])
    h.sync()
    newest = h.delta().version()
    (h.delta_dir() / "_delta_log" / f"{newest:020d}.json").unlink()
    return h, newest


def test_lost_log_entry_stops_the_sync_before_it_reuses_the_version(account, config, harness_for):
    h, newest = two_syncs_then_lose_the_newest_log_entry(account, config, harness_for)
    account.insert_ids(["d"])

    with pytest.raises(BronzeError, match=rf"log ends at version {newest - 1}.*version {newest}"):
        h.sync()
    assert h.delta().version() == newest - 1  # nothing was written


def test_accepted_log_loss_lets_syncs_go_on_with_a_complete_audit(account, config, harness_for):
    h, _ = two_syncs_then_lose_the_newest_log_entry(account, config, harness_for)

    assert accept_lost_versions(
        h.store, h.meta, h.config.tables[0], RunInfo("accept"), by="operator"
    ) == (1, 1)
    assert (
        accept_lost_versions(h.store, h.meta, h.config.tables[0], RunInfo("accept"), by="operator")
        is None
    )

    h.sync()  # version 1 again, now holding "c" once more
    assert_mirrors_source(h.bronze(), account)
    assert unaudited_versions(h) == []  # the old audit rows of version 1 no longer count
    audit = h.meta.read(SYNC_AUDIT_LOG).to_pylist()
    accepted = [r for r in audit if r["Operation"] == "LostVersionsAccepted"]
    assert [(r["DeltaVersion"], r["Status"]) for r in accepted] == [(0, "Warning")]
    assert "versions 1..1 are gone" in accepted[0]["Notes"]
    assert "their 1 row history row(s) were dropped" in accepted[0]["Notes"]
    # The row history forgot the lost version 1 and recorded the new one under its number.
    history = h.store.open(history_uri(h.store, "account")).to_pyarrow_table().to_pylist()
    assert sorted((r["BronzeVersion"], r["id"]) for r in history) == [
        (0, "a"),
        (0, "b"),
        (1, "c"),
    ]
    assert read_coverage(h.store, "account") == Coverage(0, 1, True)
