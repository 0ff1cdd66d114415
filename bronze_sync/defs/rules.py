"""The monitoring rules job and its every-4-hours schedule (wiring of monitoring.rules)."""

import datetime as dt

import dagster as dg

from bronze_sync.alerts import notifier_for
from bronze_sync.clock import utc_now
from bronze_sync.config.models import Config
from bronze_sync.defs.resources import BronzeStorageResource
from bronze_sync.metadata import MetadataStore
from bronze_sync.monitoring.rule_alerts import RULES_JOB, apply_findings, rules_markdown
from bronze_sync.monitoring.rules import MAINTENANCE_JOB, evaluate_rules, gather

RULES_CRON = "0 */4 * * *"


def running_maintenance(instance: dg.DagsterInstance) -> dict[str, dt.datetime]:
    """Return the maintenance runs in progress with their start times (UTC)."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=MAINTENANCE_JOB, statuses=[dg.DagsterRunStatus.STARTED])
    )
    return {
        r.dagster_run.run_id: dt.datetime.fromtimestamp(r.start_time, dt.UTC)
        for r in records
        if r.start_time is not None
    }


def rules_job(app_config: Config) -> dg.JobDefinition:
    """Return the job that evaluates the monitoring rules and alerts their changes."""
    notifier = notifier_for(app_config)

    @dg.op(
        name="evaluate_monitoring_rules",
        description="Evaluate alerts.rules on the metadata; alert rules that fire or resolve.",
    )
    def evaluate_monitoring_rules(
        context: dg.OpExecutionContext, bronze: BronzeStorageResource
    ) -> dg.Output[int]:
        store = bronze.store()
        meta = MetadataStore(store)
        now = utc_now()
        inputs = gather(meta, store, app_config, running_maintenance(context.instance))
        findings = evaluate_rules(app_config, inputs, now)
        changes = apply_findings(meta, notifier, findings, context.run.run_id)
        return dg.Output(
            len(changes.firing),
            metadata={
                "rules": dg.MetadataValue.md(rules_markdown(findings, now)),
                "firing": len(changes.firing),
                "fired": ", ".join(f.key for f in changes.fired) or "none",
                "resolved": ", ".join(f.key for f in changes.resolved) or "none",
            },
        )

    @dg.job(
        name=RULES_JOB,
        description="Health check: evaluate the monitoring rules (alerts.rules) and alert "
        "each rule that starts firing or is resolved.",
    )
    def monitoring_rules() -> None:
        evaluate_monitoring_rules()

    return monitoring_rules


def rules_schedule(job: dg.JobDefinition) -> dg.ScheduleDefinition:
    """Return the every-4-hours schedule of the monitoring rules job."""
    return dg.ScheduleDefinition(
        name="monitoring_rules_schedule",
        job=job,
        cron_schedule=RULES_CRON,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Evaluate the monitoring rules every 4 hours.",
    )
