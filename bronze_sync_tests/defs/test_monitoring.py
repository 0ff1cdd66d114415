"""Monitoring sensors and the breaker reset job, executed against real runs and servers."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from bronze_sync.cli.runner import dagster_instance, run_daily_sync
from bronze_sync.defs.location import build_definitions
from bronze_sync.defs.monitoring import RESET_JOB
from bronze_sync.metadata.pipeline_config import read_state, update_state
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync_tests.alerts.servers import webhook_server
from bronze_sync_tests.helpers import PgTable


@pytest.fixture
def hook(monkeypatch):
    with webhook_server() as (url, posts):
        monkeypatch.setenv("TEST_WEBHOOK_URL", url)
        yield posts


def alerting_config(make_config, tables):
    return make_config(
        tables,
        alerts={"webhook": {"url": "${TEST_WEBHOOK_URL}", "format": "generic"}},
        sync={"retry_delay_seconds": 0, "max_retries": 0},
    )


def sensor_named(defs, name):
    return next(s for s in defs.sensors if s.name == name)


def test_run_failure_sensor_alerts_once_and_keeps_one_audit_row(
    pg_engine, pg_schema, make_config, hook, dagster_home
):
    good = PgTable(pg_engine, pg_schema)
    good.insert_ids(["a"])
    ghost = {"name": "ghost", "source": f"{pg_schema}.ghost", "primary_key": "id"}
    config = alerting_config(make_config, [good.config(), ghost])
    defs = build_definitions(config)
    sensor = sensor_named(defs, "run_failure_alert")
    with dagster_instance() as instance:
        outcome = run_daily_sync(config, instance, "2026-11-22")
        assert not outcome.success
        run = instance.get_run_by_id(outcome.run_id)
        event = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0]
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=event.dagster_event,
        ).for_run_failure()
        instance.add_run_tags(run.run_id, {"dagster/will_retry": "true"})
        retried = dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(run.run_id),
            dagster_event=event.dagster_event,
        ).for_run_failure()
        sensor(retried)
        assert hook == []  # an attempt the daemon re-executes does not alert
        sensor(context)
        sensor(context)  # a second evaluation of the same failure is deduplicated
    assert len(hook) == 1
    payload = hook[0]
    assert payload["subject"] == "[HIGH] 1 table failed in daily_sync"
    assert payload["tables"] == ["ghost"] and payload["run_id"] == outcome.run_id
    assert "does not exist" in payload["details"]["ghost"]
    from bronze_sync.bronze.storage import BronzeStore
    from bronze_sync.metadata import MetadataStore

    meta = MetadataStore(BronzeStore.from_config(config.bronze))
    failed = [
        r
        for r in meta.rows(SYNC_AUDIT_LOG)
        if r["PipelineRunId"] == outcome.run_id and r["Status"] == "Failed"
    ]
    assert [r["TableName"] for r in failed] == ["ghost"]  # the run wrote it; no duplicate


def test_failed_error_check_alerts_through_the_check_sensor(
    pg_engine, pg_schema, make_config, hook, harness_for
):
    t = PgTable(pg_engine, pg_schema)
    t.insert_ids(["a", "b"])
    config = alerting_config(make_config, [t.config()])
    h = harness_for(config)
    h.sync()
    data = h.delta().to_pyarrow_table()
    write_deltalake(h.store.table_uri("account"), pa.concat_tables([data, data]), mode="overwrite")
    defs = build_definitions(config)
    checks_job = dg.define_asset_job(
        "only_checks",
        selection=dg.AssetSelection.checks_for_assets(dg.AssetKey(["bronze", "account"])),
    )
    defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[checks_job]))
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("only_checks").execute_in_process(
            instance=instance, raise_on_error=False
        )
        evaluations = result.get_asset_check_evaluations()
        assert {e.check_name for e in evaluations if not e.passed} >= {"primary_key_unique"}
        run = instance.get_run_by_id(result.run_id)
        status = "failure" if run.status == dg.DagsterRunStatus.FAILURE else "success"
        sensor = sensor_named(defs, f"failed_check_alert_{status}")
        end = (
            dg.DagsterEventType.RUN_FAILURE
            if status == "failure"
            else dg.DagsterEventType.RUN_SUCCESS
        )
        event = instance.all_logs(run.run_id, of_type=end)[0]
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=event.dagster_event,
        )
        sensor(context)
    assert len(hook) == 1
    payload = hook[0]
    assert payload["severity"] == "CRITICAL" and payload["tables"] == ["account"]
    assert "primary_key_unique" in payload["error_class"]
    assert "fresh" not in payload["error_class"]  # WARN checks do not alert


def test_reset_circuit_breaker_job_closes_the_breaker(
    pg_engine, pg_schema, make_config, harness_for
):
    t = PgTable(pg_engine, pg_schema)
    config = make_config([t.config()])
    h = harness_for(config)
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    update_state(h.meta, config.tables[0], now, ConsecutiveFailures=5, BreakerOpenSince=now)
    defs = build_definitions(config)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def(RESET_JOB).execute_in_process(
            instance=instance,
            run_config={"ops": {"close_circuit_breakers": {"config": {"tables": ["account"]}}}},
        )
    assert result.success
    state = read_state(h.meta, "account")
    assert state["BreakerOpenSince"] is None and state["ConsecutiveFailures"] == 0
