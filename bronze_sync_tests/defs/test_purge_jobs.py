"""The purge job executed for real; the checkpoint jobs' wiring (the CLI tests run them)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from bronze_sync.checkpoints import CheckpointType, create_checkpoint, daily_name, list_checkpoints
from bronze_sync.cli.job_runs import failure_message, run_job
from bronze_sync.cli.runner import dagster_instance
from bronze_sync.config import CONFIG_ENV
from bronze_sync.defs.location import build_definitions, load_purge_job
from bronze_sync.defs.purge import RECORD_OP, VALIDATE_OP
from bronze_sync.defs.sensors import batch_checkpoint_sensors
from bronze_sync.metadata.pipeline_config import read_state
from bronze_sync_tests.helpers import PgTable, years_ago
from bronze_sync_tests.purge.test_purge_request import listing

PURGE_DAY = years_ago(5).date().isoformat()


@pytest.fixture
def h(pg_engine, pg_schema, make_config, harness_for, monkeypatch, dagster_home):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids([f"old{i}" for i in range(3)], created=years_ago(7))
    account.insert_ids([f"new{i}" for i in range(7)], created=years_ago(1))
    h = harness_for(make_config([account.config(max_delete_fraction=0.5)]))
    monkeypatch.setenv(CONFIG_ENV, h.config.file)  # restored after the test
    h.sync()
    h.account = account
    return h


def purge_ops(**config):
    return {VALIDATE_OP: {"config": {"tables": ["account"], "purge_date": PURGE_DAY, **config}}}


def output_metadata(result, node):
    for event in result.events_for_node(node):
        if event.event_type_value == "STEP_OUTPUT":
            return event.step_output_data.metadata
    return {}


def test_purge_job_records_the_purge_with_a_markdown_impact_report(h):
    h.account.purge_before(years_ago(5))
    with (
        dagster_instance() as instance,
        run_job(load_purge_job, h.config, instance, purge_ops(notes="yearly")) as result,
    ):
        assert result.success, failure_message(result)
        report = output_metadata(result, VALIDATE_OP)["impact_report"].value
        outcome = result.output_for_node(RECORD_OP)
        recorded = output_metadata(result, RECORD_OP)
    assert "| account | 10 | 3 | 30.0% |" in report
    assert recorded["pre_purge_checkpoint"].value == outcome.checkpoint.name
    assert read_state(h.meta, "account")["PurgeRecordCount"] == 3
    assert h.sync().purged == 3


def test_purge_job_dry_run_and_invalid_requests_write_nothing(h):
    before = listing(h.store.root)
    with dagster_instance() as instance:
        with run_job(load_purge_job, h.config, instance, purge_ops(dry_run=True)) as result:
            assert result.success and result.output_for_node(RECORD_OP).dry_run
        future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
        with run_job(load_purge_job, h.config, instance, purge_ops(purge_date=future)) as result:
            assert not result.success
            assert "is in the future" in failure_message(result)
    assert listing(h.store.root) == before


def test_definitions_wire_the_jobs_and_the_weekly_validation_schedule(make_config):
    defs = build_definitions(make_config([{"name": "a", "source": "s.a", "primary_key": "id"}]))
    for name in ["purge_metadata_update", "create_manual_checkpoint", "validate_checkpoints"]:
        assert defs.resolve_job_def(name).name == name
    schedule = defs.resolve_schedule_def("validate_checkpoints_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 3 * * 0", "UTC")
    assert schedule.job_name == "validate_checkpoints"
    with dg.instance_for_test() as instance:
        sunday = dt.datetime(2026, 11, 29, 3, 0, tzinfo=dt.UTC)
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=sunday)
        requests = schedule.evaluate_tick(context).run_requests
    assert len(requests) == 1


def test_batch_sensor_promotes_the_first_batch_of_the_week_and_month(h):
    now = dt.datetime(2026, 11, 2, 7, 0, tzinfo=dt.UTC)  # a Monday, the 2nd of the month
    create_checkpoint(
        h.meta, daily_name("2026-11-02", "account"), CheckpointType.DAILY, {"account": 0}, now, "t"
    )
    on_success = batch_checkpoint_sensors(h.store)[0]
    with dg.instance_for_test() as instance:
        run = dg.DagsterRun(
            job_name="daily_sync", run_id="r1", tags={"dagster/partition": "2026-11-02"}
        )
        on_success(
            dg.build_run_status_sensor_context(
                sensor_name=on_success.name,
                dagster_instance=instance,
                dagster_run=run,
                dagster_event=dg.DagsterEvent(
                    event_type_value="PIPELINE_SUCCESS", job_name="daily_sync"
                ),
            )
        )
    names = {c.name: c.type for c in list_checkpoints(h.meta)}
    assert names["bronze_weekly_2026-W45"] == CheckpointType.WEEKLY
    assert names["bronze_monthly_2026-11"] == CheckpointType.MONTHLY
