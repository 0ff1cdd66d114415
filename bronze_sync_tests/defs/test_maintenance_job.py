"""The weekly_maintenance job and schedule, executed in-process."""

from __future__ import annotations

import pytest
from dagster._core.definitions.reconstruct import ReconstructableJob

from bronze_sync.checkpoints import CheckpointType, list_checkpoints
from bronze_sync.cli.job_runs import failure_message, run_job
from bronze_sync.cli.runner import dagster_instance
from bronze_sync.config import CONFIG_ENV
from bronze_sync.defs.location import build_definitions, load_maintenance_job
from bronze_sync.defs.maintenance import MAINTENANCE_JOB, MAINTENANCE_OP
from bronze_sync.metadata.schemas import STORAGE_HISTORY
from bronze_sync_tests.maintenance.simulation import listing, simulate


def forget_reconstructed_jobs() -> None:
    """Drop Dagster's per-process cache of the last reconstructed job.

    `ReconstructableJob.get_definition` keeps one definition per process; two runs of the same
    job for different configuration files in one process would otherwise share the first one.
    """
    ReconstructableJob.get_definition.cache_clear()
    ReconstructableJob.get_repository_definition.cache_clear()


@pytest.fixture
def sim(pg_engine, pg_schema, make_config, harness_for, monkeypatch, dagster_home):
    forget_reconstructed_jobs()
    sim = simulate(pg_engine, pg_schema, make_config, harness_for, days=3)
    monkeypatch.setenv(CONFIG_ENV, sim.harness.config.file)
    return sim


def ops(**config):
    return {MAINTENANCE_OP: {"config": config}}


def summary_metadata(result):
    for event in result.events_for_node(MAINTENANCE_OP):
        if event.event_type_value == "STEP_OUTPUT":
            return event.step_output_data.metadata
    return {}


def test_job_and_sunday_schedule_are_wired(sim):
    defs = build_definitions(sim.harness.config)
    assert defs.resolve_job_def(MAINTENANCE_JOB).name == MAINTENANCE_JOB
    schedule = defs.resolve_schedule_def("weekly_maintenance_schedule")
    assert schedule.cron_schedule == "0 2 * * 0"
    assert schedule.execution_timezone == "UTC" and schedule.job_name == MAINTENANCE_JOB


def test_dry_run_job_reports_in_markdown_and_changes_nothing(sim):
    h = sim.harness
    before = listing(h)
    with (
        dagster_instance() as instance,
        run_job(load_maintenance_job, h.config, instance, ops(dry_run=True)) as result,
    ):
        assert result.success, failure_message(result)
        markdown = summary_metadata(result)["summary"].value
    assert "DRY RUN" in markdown and "| account | bronze |" in markdown
    assert listing(h) == before


def test_job_maintains_every_table_and_records_storage(sim):
    h = sim.harness
    with (
        dagster_instance() as instance,
        run_job(load_maintenance_job, h.config, instance, ops(tables=["account"])) as result,
    ):
        assert result.success, failure_message(result)
        summary = result.output_for_node(MAINTENANCE_OP)
    assert [o.table for o in summary.outcomes if o.kind == "bronze"] == ["account"]
    history = h.meta.read(STORAGE_HISTORY).to_pylist()
    assert "account" in {r["TableName"] for r in history}
    kinds = {c.type for c in list_checkpoints(h.meta)}
    assert CheckpointType.PRE_MAINTENANCE in kinds
    assert not summary.unrestorable
