"""The rollback_to_checkpoint job executed in-process: dry run metadata, then the restore."""

from __future__ import annotations

import pytest

from bronze_sync.cli.job_runs import failure_message, run_job
from bronze_sync.cli.runner import dagster_instance
from bronze_sync.config import CONFIG_ENV
from bronze_sync.defs.location import build_definitions, load_rollback_job
from bronze_sync.defs.rollback import ANALYSE_OP, RESTORE_OP
from bronze_sync_tests.defs.test_purge_jobs import output_metadata
from bronze_sync_tests.rollback.scenario import outage, recover, synced


@pytest.fixture
def h(pg_engine, pg_schema, make_config, harness_for, monkeypatch, dagster_home):
    h = synced(pg_engine, pg_schema, make_config, harness_for)
    monkeypatch.setenv(CONFIG_ENV, h.config.file)  # restored after the test
    outage(h.account, keep=3)
    h.sync(allow_mass_delete=True)
    recover(h.account)
    return h


def ops(**config):
    return {ANALYSE_OP: {"config": {"checkpoint_name": "good", "requested_by": "ops", **config}}}


def test_dry_run_attaches_markdown_impact_and_token_then_execution_restores(h):
    with dagster_instance() as instance:
        with run_job(load_rollback_job, h.config, instance, ops()) as result:
            assert result.success, failure_message(result)
            metadata = output_metadata(result, ANALYSE_OP)
            assert result.output_for_node(RESTORE_OP).dry_run
        report = metadata["impact_report"].value
        assert "| account | v1 -> v0 | 12 | 12 | 0 | 9 | 9 | 0 | High |" in report
        token = metadata["approval_token"].value
        assert h.delta().version() == 1

        refused = ops(dry_run=False)
        with run_job(load_rollback_job, h.config, instance, refused) as result:
            assert not result.success
            assert "needs the approval token" in failure_message(result)

        approved = ops(dry_run=False, approval_token=token, tables_scope=["account"])
        with run_job(load_rollback_job, h.config, instance, approved) as result:
            assert result.success, failure_message(result)
            outcome = result.output_for_node(RESTORE_OP)
            post = output_metadata(result, RESTORE_OP)["post_rollback_checkpoint"].value
    assert outcome.success and post == outcome.post_checkpoint.name
    assert h.delta().version() == 2


def test_definitions_wire_the_rollback_job(make_config):
    defs = build_definitions(make_config([{"name": "a", "source": "s.a", "primary_key": "id"}]))
    job = defs.resolve_job_def("rollback_to_checkpoint")
    assert sorted(n.name for n in job.nodes) == [ANALYSE_OP, RESTORE_OP]
