"""Checkpoint jobs: a manual checkpoint, and the weekly integrity validation with its schedule."""

import dagster as dg
from pydantic import Field

from bronze_sync.alerts import notifier_for
from bronze_sync.checkpoints.lifecycle import (
    CheckpointValidation,
    create_manual_checkpoint,
    validate_active_checkpoints,
)
from bronze_sync.clock import utc_now
from bronze_sync.config import parse_tables
from bronze_sync.config.models import Config
from bronze_sync.defs.resources import BronzeStorageResource
from bronze_sync.errors import BronzeSyncError
from bronze_sync.metadata import MetadataStore, RunInfo

MANUAL_JOB = "create_manual_checkpoint"
VALIDATE_JOB = "validate_checkpoints"
MANUAL_OP = "pin_current_versions"
VALIDATE_OP = "validate_checkpoint_integrity"


class ManualCheckpointConfig(dg.Config):
    """Run config of create_manual_checkpoint."""

    name: str = Field(description="Checkpoint name (letters, digits, '_', '.', '-').")
    tables: list[str] = Field(default=["All"], description='Tables to pin, or ["All"].')
    notes: str | None = Field(default=None, description="Why; kept with the checkpoint.")


def _failure(exc: BronzeSyncError) -> dg.Failure:
    return dg.Failure(
        description=str(exc), metadata={"error": type(exc).__name__}, allow_retries=False
    )


def validation_markdown(results: list[CheckpointValidation]) -> str:
    """Return the validation results as a Markdown table."""
    lines = ["| checkpoint | type | tables | restorable | problems |", "|---|---|---|---|---|"]
    for r in results:
        c = r.checkpoint
        problems = "; ".join(r.problems()).replace("|", "/")
        lines.append(
            f"| {c.name} | {c.type.value} | {len(c.table_versions)} | "
            f"{'yes' if r.restorable else '**NO**'} | {problems} |"
        )
    return "\n".join(lines)


def checkpoint_jobs(app_config: Config) -> list[dg.JobDefinition]:
    """Return the manual checkpoint job and the integrity validation job."""
    notifier = notifier_for(app_config)

    @dg.op(name=MANUAL_OP, description="Pin the tables' current Delta versions (Manual, 30 days).")
    def pin_current_versions(
        context: dg.OpExecutionContext,
        config: ManualCheckpointConfig,
        bronze: BronzeStorageResource,
    ) -> dict[str, int]:
        tables = parse_tables(config.tables)
        try:
            checkpoint = create_manual_checkpoint(
                app_config,
                bronze.store(),
                config.name,
                list(tables) if tables else None,
                utc_now(),
                f"dagster run {context.run.run_id}",
                config.notes,
            )
        except BronzeSyncError as exc:
            raise _failure(exc) from None
        context.add_output_metadata(
            {
                "checkpoint": checkpoint.name,
                "retention_date": checkpoint.retention_date.isoformat(),
                "total_rows": checkpoint.total_rows,
                "table_versions": dg.MetadataValue.json(checkpoint.table_versions),
            }
        )
        return checkpoint.table_versions

    @dg.op(name=VALIDATE_OP, description="Check every active checkpoint is still restorable.")
    def validate_checkpoint_integrity(
        context: dg.OpExecutionContext, bronze: BronzeStorageResource
    ) -> int:
        store = bronze.store()
        run = RunInfo(run_id=context.run.run_id, pipeline_name=context.job_name)
        results = validate_active_checkpoints(
            MetadataStore(store), store, utc_now(), notifier=notifier, run=run
        )
        broken = [r for r in results if not r.restorable]
        metadata: dict[str, dg.MetadataValue | int] = {
            "checked": len(results),
            "unrestorable": len(broken),
            "results": dg.MetadataValue.md(validation_markdown(results)),
        }
        if broken:
            raise dg.Failure(
                description=f"{len(broken)} active checkpoint(s) can no longer be restored: "
                + ", ".join(b.checkpoint.name for b in broken),
                metadata=metadata,
                allow_retries=False,
            )
        context.add_output_metadata(metadata)
        return len(results)

    @dg.job(
        name=MANUAL_JOB,
        executor_def=dg.in_process_executor,
        description="Pin the current versions of bronze tables as a Manual checkpoint (30 days).",
    )
    def create_manual_checkpoint_job() -> None:
        pin_current_versions()

    @dg.job(
        name=VALIDATE_JOB,
        executor_def=dg.in_process_executor,
        description=(
            "Check that every active checkpoint is still restorable (log entry and data files "
            "present); record ValidationStatus and alert when one is not."
        ),
    )
    def validate_checkpoints_job() -> None:
        validate_checkpoint_integrity()

    return [create_manual_checkpoint_job, validate_checkpoints_job]


validate_checkpoints_schedule = dg.ScheduleDefinition(
    name="validate_checkpoints_schedule",
    cron_schedule="0 3 * * 0",
    job_name=VALIDATE_JOB,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Sunday 03:00 UTC: validate that every active checkpoint is still restorable.",
)
