"""Monitoring wiring: failure and check sensors, checkpoint streak alert, breaker reset job."""

import dagster as dg
from pydantic import Field

from bronze_sync.alerts import Notifier, notifier_for
from bronze_sync.alerts.content import TableFailure
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.clock import utc_now
from bronze_sync.config.models import Config
from bronze_sync.defs.partition_values import sync_batch_key
from bronze_sync.defs.resources import BronzeStorageResource
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.monitoring.breaker import consecutive_failures, reset_breaker
from bronze_sync.monitoring.failures import (
    check_failure_alert,
    checkpoint_failure_days,
    checkpoint_streak_alert,
    record_run_failure,
    run_failure_alert,
)
from bronze_sync.monitoring.publish import publish_report

RESET_JOB = "reset_circuit_breaker"
WILL_RETRY = "dagster/will_retry"  # set by Dagster on a failed run it re-executes
CHECK_EVENTS = dg.DagsterEventType.ASSET_CHECK_EVALUATION


def step_failures(instance: dg.DagsterInstance, run_id: str) -> list[TableFailure]:
    """Return one failure per failed step of a run (its last attempt), named by table."""
    latest: dict[str, TableFailure] = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        data = event.step_failure_data
        user = data.user_failure_data
        meta = user.metadata if user else {}
        table = _text(meta.get("table")) or _table_of_step(event.step_key)
        error_class = _text(meta.get("error")) or (data.error.cls_name if data.error else None)
        message = (user.description if user and user.description else None) or (
            data.error.message.strip() if data.error else "step failed"
        )
        latest[table] = TableFailure(table, error_class or "Error", message)
    return list(latest.values())


def _table_of_step(step_key: str) -> str:
    # Asset steps are bronze__<table>; check steps (a failed blocking check) validate_<table>.
    for prefix in ("bronze__", "validate_"):
        if step_key.startswith(prefix):
            return step_key.removeprefix(prefix)
    return step_key


def _text(value: object) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def run_failure_alert_sensor(store: BronzeStore, notifier: Notifier) -> dg.SensorDefinition:
    """Return the sensor that records and alerts every failed run of every job."""

    @dg.run_failure_sensor(
        name="run_failure_alert",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Write Failed SyncAuditLog rows a failed run could not write; alert once.",
    )
    def _on_failure(context: dg.RunFailureSensorContext) -> None:
        run = context.dagster_run
        info = RunInfo(run.run_id, run.job_name, sync_batch_key(run))
        failures = step_failures(context.instance, run.run_id) or [
            TableFailure(run.job_name, "RunFailure", context.failure_event.message or "run failed")
        ]
        written = record_run_failure(MetadataStore(store), info, failures, utc_now())
        if written:
            context.log.info(f"recorded Failed audit rows for {written}")
        if run.tags.get(WILL_RETRY) == "true":
            # The daemon re-executes it (sync.run_retries): the last attempt alerts, once.
            context.log.info("not alerted: the daemon re-executes this run")
            return
        notifier.send(run_failure_alert(info, failures))

    return _on_failure


def failed_check_failures(instance: dg.DagsterInstance, run_id: str) -> list[TableFailure]:
    """Return the ERROR asset checks that failed in a run, as table failures."""
    failures = []
    for record in instance.all_logs(run_id, of_type=CHECK_EVENTS):
        event = record.dagster_event
        evaluation = event.event_specific_data if event else None
        # of_type already filters, but the event's data is typed as a union of every kind.
        if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.passed:
            continue
        if evaluation.severity != dg.AssetCheckSeverity.ERROR:
            continue
        message = _text(evaluation.metadata.get("message")) or "check failed"
        failures.append(TableFailure(evaluation.asset_key.path[-1], evaluation.check_name, message))
    return failures


def failed_checks_sensors(notifier: Notifier) -> list[dg.SensorDefinition]:
    """Return sensors alerting on failed ERROR asset checks once a run ends (OSS has none)."""

    def alert(context: dg.RunStatusSensorContext) -> dg.SkipReason | None:
        run = context.dagster_run
        failures = failed_check_failures(context.instance, run.run_id)
        if not failures:
            return dg.SkipReason("no ERROR check failed in this run")
        notifier.send(check_failure_alert(RunInfo(run.run_id, run.job_name), failures))
        return None

    return [
        dg.run_status_sensor(
            run_status=status,
            name=f"failed_check_alert_{status.value.lower()}",
            default_status=dg.DefaultSensorStatus.RUNNING,
            description="Alert when an ERROR-severity asset check failed in a finished run.",
        )(alert)
        for status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
    ]


def checkpoint_streak_sensor(store: BronzeStore, notifier: Notifier) -> dg.SensorDefinition:
    """Return the sensor that alerts when checkpoints failed on 3+ consecutive sync days."""

    @dg.sensor(
        name="checkpoint_streak_alert",
        minimum_interval_seconds=3600,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alert when no validated checkpoint was recorded on 3+ consecutive sync days.",
    )
    def _streak(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        days = checkpoint_failure_days(MetadataStore(store), utc_now().date())
        alert = checkpoint_streak_alert(days)
        if alert is not None:
            notifier.send(alert)
        return dg.SkipReason(f"{len(days)} consecutive day(s) without a validated checkpoint")

    return _streak


class ResetBreakerConfig(dg.Config):
    """Run config of reset_circuit_breaker."""

    tables: list[str] = Field(description="Tables whose circuit breaker to close.")


def reset_breaker_job(app_config: Config) -> dg.JobDefinition:
    """Return the UI-launchable job that closes tables' circuit breakers."""

    @dg.op(name="close_circuit_breakers", description="Close the breakers of the given tables.")
    def close_circuit_breakers(
        context: dg.OpExecutionContext, config: ResetBreakerConfig, bronze: BronzeStorageResource
    ) -> dg.Output[list[str]]:
        meta = MetadataStore(bronze.store())
        tables = app_config.select_tables(config.tables)
        run = RunInfo(context.run.run_id, RESET_JOB)
        cleared = {}
        for table in tables:
            cleared[table.name] = consecutive_failures(meta, table.name)
            reset_breaker(meta, table, run, utc_now(), by=f"dagster run {context.run.run_id}")
        return dg.Output([t.name for t in tables], metadata={"cleared_failures": cleared})

    @dg.job(name=RESET_JOB, description="Close tables' circuit breakers so they sync again.")
    def _reset() -> None:
        close_circuit_breakers()

    return _reset


def monitoring_sensors(config: Config) -> list[dg.SensorDefinition]:
    """Return the monitoring sensors of a configuration."""
    store = BronzeStore.from_config(config.bronze)
    notifier = notifier_for(config)
    return [
        run_failure_alert_sensor(store, notifier),
        *failed_checks_sensors(notifier),
        checkpoint_streak_sensor(store, notifier),
    ]


HEALTH_JOB = "health_report_job"


def health_report_asset(app_config: Config) -> dg.AssetsDefinition:
    """Return the daily health report asset (HTML under {bronze.path}/reports/)."""

    @dg.asset(
        name="health_report",
        group_name="monitoring",
        kinds={"html"},
        description="Daily bronze health: success rate, rows, slowest tables, validation, "
        "checkpoint coverage, deleted/purged trends (HTML with charts under reports/).",
    )
    def _health_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        published = publish_report(app_config, utc_now().date())
        context.log.info(f"health report written to {published.path}")
        figures = {k: v for k, v in published.report.summary().items() if v is not None}
        return dg.MaterializeResult(
            metadata={
                "report": dg.MetadataValue.md(published.markdown),
                "path": dg.MetadataValue.path(published.path),
                "emailed": published.emailed,
                **figures,
            }
        )

    return _health_report


def health_report_schedule() -> "tuple[dg.UnresolvedAssetJobDefinition, dg.ScheduleDefinition]":
    """Return the health report job and its daily 08:00 UTC schedule."""
    job = dg.define_asset_job(HEALTH_JOB, selection=dg.AssetSelection.assets("health_report"))
    schedule = dg.ScheduleDefinition(
        name="health_report_schedule",
        job=job,
        cron_schedule="0 8 * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Write the daily health report at 08:00 UTC.",
    )
    return job, schedule
