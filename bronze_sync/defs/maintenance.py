"""The weekly_maintenance job and its Sunday 02:00 UTC schedule (wiring of maintenance)."""

import dagster as dg
from pydantic import Field

from bronze_sync.alerts import notifier_for
from bronze_sync.clock import utc_now
from bronze_sync.config import parse_tables
from bronze_sync.config.models import Config
from bronze_sync.defs.resources import BronzeStorageResource
from bronze_sync.errors import BronzeSyncError
from bronze_sync.maintenance import MaintenanceRequest, MaintenanceSummary, run_maintenance
from bronze_sync.metadata import RunInfo

MAINTENANCE_JOB = "weekly_maintenance"
MAINTENANCE_OP = "maintain_delta_tables"
SUMMARY_TEXT = "summary_text"


class MaintenanceConfig(dg.Config):
    """Run config of weekly_maintenance."""

    dry_run: bool = Field(default=False, description="Report what would happen; change nothing.")
    tables: list[str] = Field(default=["All"], description='Bronze tables, or ["All"] (enabled).')
    include_metadata: bool = Field(default=True, description="Maintain the metadata tables too.")


def maintenance_job(app_config: Config) -> dg.JobDefinition:
    """Return the job that enforces checkpoint retention, VACUUMs and OPTIMIZEs every table."""
    notifier = notifier_for(app_config)

    @dg.op(
        name=MAINTENANCE_OP,
        description="Checkpoint retention, PreMaintenance checkpoint, checkpoint-safe VACUUM, "
        "OPTIMIZE, log cleanup, storage report.",
    )
    def maintain_delta_tables(
        context: dg.OpExecutionContext, config: MaintenanceConfig, bronze: BronzeStorageResource
    ) -> MaintenanceSummary:
        request = MaintenanceRequest(
            dry_run=config.dry_run,
            tables=parse_tables(config.tables),
            include_metadata=config.include_metadata,
            created_by=f"dagster run {context.run.run_id}",
        )
        run = RunInfo(run_id=context.run.run_id, pipeline_name=context.job_name)
        try:
            summary = run_maintenance(
                app_config, bronze.store(), request, now=utc_now(), run=run, notifier=notifier
            )
        except BronzeSyncError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        context.log.info(summary.to_text())
        metadata: dict[str, dg.MetadataValue | str | int] = {
            "summary": dg.MetadataValue.md(summary.to_markdown()),
            "dry_run": summary.dry_run,
            "bytes_reclaimed": summary.bytes_reclaimed,
            "checkpoints_deactivated": len(summary.deactivated),
            "failed_tables": ", ".join(o.table for o in summary.failures) or "none",
        }
        problems = [o.table for o in summary.failures] + summary.unrestorable
        if problems:
            raise dg.Failure(
                description="maintenance finished with problems: " + summary.headline(),
                metadata={**metadata, SUMMARY_TEXT: dg.MetadataValue.text(summary.to_text())},
                allow_retries=False,
            )
        context.add_output_metadata(metadata)
        return summary

    @dg.job(
        name=MAINTENANCE_JOB,
        executor_def=dg.in_process_executor,
        description="Weekly Delta maintenance that never breaks an active checkpoint.",
    )
    def weekly_maintenance() -> None:
        maintain_delta_tables()

    return weekly_maintenance


weekly_maintenance_schedule = dg.ScheduleDefinition(
    name="weekly_maintenance_schedule",
    cron_schedule="0 2 * * 0",
    job_name=MAINTENANCE_JOB,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Sunday 02:00 UTC: weekly maintenance (dry_run false, every enabled table).",
)
