"""A daily_sync run whose checkpoint fails: the run succeeds, checkpoint_recorded fails (WARN),
one alert goes out, and the batch sensor records the missing checkpoint afterwards."""

from __future__ import annotations

import dagster as dg
import pytest

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import CheckpointType, list_checkpoints
from bronze_sync.cli.runner import dagster_instance, execute_daily_sync
from bronze_sync.defs.sensors import batch_checkpoint_sensors
from bronze_sync.faults import FAULT_ENV
from bronze_sync.metadata import MetadataStore
from bronze_sync_tests.alerts.servers import webhook_server
from bronze_sync_tests.helpers import PgTable


@pytest.fixture
def hook(monkeypatch):
    with webhook_server() as (url, posts):
        monkeypatch.setenv("TEST_WEBHOOK_URL", url)
        yield posts


def end_event(instance, run):
    kind = (
        dg.DagsterEventType.RUN_SUCCESS
        if run.status == dg.DagsterRunStatus.SUCCESS
        else dg.DagsterEventType.RUN_FAILURE
    )
    return instance.all_logs(run.run_id, of_type=kind)[0].dagster_event


def test_failed_checkpoint_is_alerted_checked_and_recorded_by_the_batch_sensor(
    pg_engine, pg_schema, make_config, hook, dagster_home, monkeypatch
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    config = make_config(
        [account.config()],
        alerts={"webhook": {"url": "${TEST_WEBHOOK_URL}", "format": "generic"}},
        sync={"retry_delay_seconds": 0, "max_retries": 0, "checkpoint_retry_delay_seconds": 0},
    )
    meta = MetadataStore(BronzeStore.from_config(config.bronze))
    with dagster_instance() as instance:
        assert execute_daily_sync(config, instance, "2026-11-22", ["account"], False).success
        account.update(["a"], name="new")
        monkeypatch.setenv(FAULT_ENV, "checkpoint:raise")
        result = execute_daily_sync(config, instance, "2026-11-23", ["account"], False)
        monkeypatch.delenv(FAULT_ENV)
        assert result.success  # the failed check is WARN while the repair is pending

        (event,) = result.get_asset_materialization_events()
        figures = event.materialization.metadata
        assert "InjectedFaultError" in figures["checkpoint_error"].value
        checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
        recorded = checks["checkpoint_recorded"]
        assert not recorded.passed and recorded.severity == dg.AssetCheckSeverity.WARN
        unpinned = [r for r in meta.rows("SyncAuditLog") if r["Status"] == "Warning"]
        assert [r["Operation"] for r in unpinned] == ["DailyCheckpoint"]
        version = unpinned[0]["DeltaVersion"]
        assert not [c for c in list_checkpoints(meta) if c.table_versions == {"account": version}]

        run = instance.get_run_by_id(result.run_id)
        sensors = batch_checkpoint_sensors(BronzeStore.from_config(config.bronze))
        sensor = sensors[0 if run.status == dg.DagsterRunStatus.SUCCESS else 1]
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=end_event(instance, run),
        )
        if run.status != dg.DagsterRunStatus.SUCCESS:
            context = context.for_run_failure()
        sensor(context)

    daily = [c for c in list_checkpoints(meta) if c.name == "bronze_backup_2026-11-23_account"]
    assert len(daily) == 1 and daily[0].table_versions == {"account": version}
    (batch,) = [
        c
        for c in list_checkpoints(meta, kind=CheckpointType.DAILY_BATCH)
        if c.name == "bronze_batch_2026-11-23"
    ]
    assert batch.table_versions == {"account": version}
    alerts = [p for p in hook if "without a checkpoint" in p["subject"]]
    assert len(alerts) == 1 and alerts[0]["tables"] == ["account"]
    assert alerts[0]["error_class"] == "CheckpointFailed"
