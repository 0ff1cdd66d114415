"""purge.require_approval: a dry run prints a token; recording needs it, once, unchanged tables."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bronze_sync.cli.job_runs import failure_message, run_job
from bronze_sync.cli.runner import dagster_instance
from bronze_sync.config import CONFIG_ENV
from bronze_sync.defs.location import load_purge_job
from bronze_sync.defs.purge import RECORD_OP, VALIDATE_OP
from bronze_sync.metadata.pipeline_config import read_state
from bronze_sync.purge.approval import PURGE_APPROVALS
from bronze_sync.purge.history import read_events
from bronze_sync_tests.cli_runner import Done, cli_runner
from bronze_sync_tests.helpers import PgTable, years_ago
from bronze_sync_tests.purge.test_purge_request import listing

PURGE_DAY = years_ago(5).date().isoformat()


@pytest.fixture
def h(pg_engine, pg_schema, make_config, harness_for, monkeypatch, dagster_home):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids([f"old{i}" for i in range(3)], created=years_ago(7))
    account.insert_ids([f"new{i}" for i in range(7)], created=years_ago(1))
    h = harness_for(
        make_config([account.config(max_delete_fraction=0.5)], purge={"require_approval": True})
    )
    monkeypatch.setenv(CONFIG_ENV, h.config.file)
    h.sync()
    h.account = account
    return h


@pytest.fixture
def run(capfd, monkeypatch, dagster_home) -> Callable[..., Done]:
    """Return a function that runs `bronze-sync` in this process."""
    return cli_runner(capfd, monkeypatch)


def _purge(run, h, *extra: str):
    args = ["purge", "--config", h.config.file, "--tables", "account", "--purge-date", PURGE_DAY]
    return run(*args, *extra)


def _token(output: str) -> str:
    line = next(x for x in output.splitlines() if x.startswith("Approval token: "))
    return line.removeprefix("Approval token: ").strip()


def test_an_approved_token_records_the_purge_once(h, run):
    before = listing(h.store.root)
    dry = _purge(run, h)
    assert dry.returncode == 0, dry.stderr[-2000:]
    token = _token(dry.stdout)
    assert "--approval-token" in dry.stdout
    assert listing(h.store.root) == before  # the dry run wrote nothing

    missing = _purge(run, h, "--execute", "--approval-token", token)
    assert missing.returncode == 2 and "--approved-by" in missing.stderr

    done = _purge(run, h, "--execute", "--approval-token", token, "--approved-by", "Dana (DGO)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert read_state(h.meta, "account")["LastPurgeDate"].date().isoformat() == PURGE_DAY
    recorded = [r for r in h.meta.rows("SyncAuditLog") if r["Operation"] == "PurgeRecorded"]
    assert "approved by Dana (DGO)" in recorded[0]["Notes"]
    (approval,) = h.meta.rows(PURGE_APPROVALS)
    assert approval["ApprovedBy"] == "Dana (DGO)" and token not in str(approval)

    again = _purge(run, h, "--execute", "--approval-token", token, "--approved-by", "Dana")
    assert again.returncode == 1 and "already used" in again.stderr
    assert len(read_events(h.meta, "account")) == 1


def test_a_token_goes_stale_when_the_table_changes_and_nothing_is_written(h, run):
    token = _token(_purge(run, h).stdout)
    h.account.insert_ids(["late"])
    assert h.sync().inserted == 1  # bronze moved on since the dry run
    before = listing(h.store.root)
    stale = _purge(run, h, "--execute", "--approval-token", token, "--approved-by", "Dana")
    assert stale.returncode == 1
    assert "does not approve this purge as the tables are now" in stale.stderr
    assert listing(h.store.root) == before
    forced = _purge(run, h, "--force", "--execute", "--approval-token", token, "--approved-by", "D")
    assert forced.returncode == 1  # another request than the approved one


def test_the_purge_job_takes_the_token_in_its_run_config(h):
    def ops(**config):
        base = {"tables": ["account"], "purge_date": PURGE_DAY}
        return {VALIDATE_OP: {"config": {**base, **config}}}

    with dagster_instance() as instance:
        with run_job(load_purge_job, h.config, instance, ops(dry_run=True)) as result:
            assert result.success, failure_message(result)
            token = result.output_for_node(VALIDATE_OP).approval_token
        assert token
        with run_job(load_purge_job, h.config, instance, ops()) as result:
            assert not result.success
            assert "purge.require_approval is on" in failure_message(result)
        approved = ops(approval_token=token, approved_by="Dana")
        with run_job(load_purge_job, h.config, instance, approved) as result:
            assert result.success, failure_message(result)
            assert result.output_for_node(RECORD_OP).recorded_tables == ["account"]


def test_approval_options_without_the_setting_are_a_usage_error(
    pg_engine, pg_schema, make_config, harness_for, run
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a"], created=years_ago(7))
    h = harness_for(make_config([account.config()]))
    h.sync()
    done = _purge(run, h, "--approval-token", "x", "--approved-by", "y")
    assert done.returncode == 2 and "purge.require_approval" in done.stderr
