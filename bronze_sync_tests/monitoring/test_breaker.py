"""Circuit breaker: opens after 5 consecutive failed syncs, skips the table, resets."""

from __future__ import annotations

import logging

import pytest

from bronze_sync.cli.runner import dagster_instance, run_daily_sync
from bronze_sync.errors import BronzeSyncError
from bronze_sync.metadata.pipeline_config import read_state
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync.monitoring.breaker import check_breaker, consecutive_failures, skip_if_open
from bronze_sync_tests.cli.test_cli import run
from bronze_sync_tests.helpers import PgTable

pytestmark = pytest.mark.slow  # Dagster runs or many syncs: see conftest.SLOW_FOLDERS


@pytest.fixture
def broken(pg_schema, make_config, harness_for):
    """A configured table whose source table does not exist yet: every sync fails."""
    config = make_config(
        [{"name": "account", "source": f"{pg_schema}.account", "primary_key": "id",
          "created_column": "createdon", "modified_column": "modifiedon"}]
    )  # fmt: skip
    return harness_for(config)


def fail_syncs(h, n):
    for _ in range(n):
        with pytest.raises(BronzeSyncError):
            h.sync()


def test_breaker_opens_after_five_failed_runs_and_skips(broken, caplog):
    table = broken.config.tables[0]
    fail_syncs(broken, 4)
    assert consecutive_failures(broken.meta, "account") == 4
    assert skip_if_open(broken.job(), table, 5) is None
    fail_syncs(broken, 1)
    with caplog.at_level(logging.ERROR, logger="bronze_sync.alerts"):
        reason = skip_if_open(broken.job(), table, 5)
    assert reason and "5 consecutive failed syncs" in reason
    assert "breaker reset --tables account" in reason
    assert "1 table skipped: circuit breaker open" in caplog.text
    skipped = [r for r in broken.meta.rows(SYNC_AUDIT_LOG) if r["Status"] == "Skipped"]
    assert len(skipped) == 1 and skipped[0]["Notes"] == reason
    state = read_state(broken.meta, "account")
    assert state["ConsecutiveFailures"] == 5 and state["BreakerOpenSince"] is not None


def test_skipped_runs_do_not_count_and_retries_count_once(broken):
    fail_syncs(broken, 2)
    job = broken.job()
    for _ in range(3):  # three attempts of one run
        with pytest.raises(BronzeSyncError):
            from bronze_sync.sync import run_table_sync

            run_table_sync(job, broken.config.tables[0])
    assert consecutive_failures(broken.meta, "account") == 3


def test_breaker_skips_in_daily_sync_and_cli_reset_closes_it(
    broken, pg_engine, pg_schema, dagster_home
):
    fail_syncs(broken, 5)
    config = broken.config
    with dagster_instance() as instance:
        outcome = run_daily_sync(config, instance, "2026-11-21")
    assert outcome.success  # a skipped table does not fail the run
    assert [t.status for t in outcome.tables] == ["Skipped"]
    assert check_breaker(broken.meta, config.tables[0], 5, broken.job().clock()).is_open

    done = run("breaker", "reset", "--config", config.file, "--tables", "account")
    assert done.returncode == 0 and "breaker closed (5 consecutive failure(s)" in done.stdout
    state = read_state(broken.meta, "account")
    assert state["BreakerOpenSince"] is None and state["ConsecutiveFailures"] == 0

    source = PgTable(pg_engine, pg_schema)
    source.insert_ids(["a", "b"])
    assert skip_if_open(broken.job(), config.tables[0], 5) is None
    assert broken.sync().inserted == 2
    assert consecutive_failures(broken.meta, "account") == 0
    resets = [
        r for r in broken.meta.rows(SYNC_AUDIT_LOG) if r["Operation"] == "CircuitBreakerReset"
    ]
    assert len(resets) == 1
    assert resets[0]["PipelineRunId"].startswith("cli-breaker-reset-")
