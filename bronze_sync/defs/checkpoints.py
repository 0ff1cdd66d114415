"""Checkpoint jobs: a manual checkpoint, retiring a permanent one, and the weekly integrity
validation with its schedule."""

import dagster as dg
from pydantic import Field

from bronze_sync.alerts import notifier_for
from bronze_sync.checkpoints.lifecycle import (
    CheckpointValidation,
    create_manual_checkpoint,
    retire_checkpoint,
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
RETIRE_JOB = "retire_checkpoint"
RETIRE_OP = "retire_permanent_checkpoint"
VALIDATE_OP = "validate_checkpoint_integrity"


class ManualCheckpointConfig(dg.Config):
    """Run config of create_manual_checkpoint."""

    name: str = Field(description="Checkpoint name (letters, digits, '_', '.', '-').")
    tables: list[str] = Field(default=["All"], description='Tables to pin, or ["All"].')
    notes: str | None = Field(default=None, description="Why; kept with the checkpoint.")
    retain_days: int | None = Field(
        default=None, description="Keep it this many days instead of 30 (1-36500)."
    )
    keep_forever: bool = Field(
        default=False, description="Permanent: never expires; only retire_checkpoint ends it."
    )


class RetireCheckpointConfig(dg.Config):
    """Run config of retire_checkpoint."""

    name: str = Field(description="The permanent checkpoint to end (PrePurge or --keep-forever).")
    reason: str = Field(description="Why it may go; audited with who retired it.")
    retired_by: str | None = Field(default=None, description="Who (default: the run).")


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
                config.retain_days,
                config.keep_forever,
            )
        except BronzeSyncError as exc:
            raise _failure(exc) from None
        context.add_output_metadata(
            {
                "checkpoint": checkpoint.name,
                "retention_date": checkpoint.expires(),
                "total_rows": checkpoint.total_rows,
                "table_versions": dg.MetadataValue.json(checkpoint.table_versions),
            }
        )
        return checkpoint.table_versions

    @dg.op(name=RETIRE_OP, description="End a permanent checkpoint (deactivated, audited).")
    def retire_permanent_checkpoint(
        context: dg.OpExecutionContext,
        config: RetireCheckpointConfig,
        bronze: BronzeStorageResource,
    ) -> str:
        run = RunInfo(run_id=context.run.run_id, pipeline_name=context.job_name)
        by = config.retired_by or f"dagster run {context.run.run_id}"
        try:
            retired = retire_checkpoint(
                MetadataStore(bronze.store()), config.name, utc_now(), by, config.reason, run
            )
        except BronzeSyncError as exc:
            raise _failure(exc) from None
        context.add_output_metadata({"checkpoint": retired.name, "notes": retired.notes or ""})
        return retired.name

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
        name=RETIRE_JOB,
        executor_def=dg.in_process_executor,
        description="End a permanent checkpoint (PrePurge or keep-forever): the only way one "
        "stops being active; audited as CheckpointRetired.",
    )
    def retire_checkpoint_job() -> None:
        retire_permanent_checkpoint()

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

    return [create_manual_checkpoint_job, retire_checkpoint_job, validate_checkpoints_job]


validate_checkpoints_schedule = dg.ScheduleDefinition(
    name="validate_checkpoints_schedule",
    cron_schedule="0 3 * * 0",
    job_name=VALIDATE_JOB,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Sunday 03:00 UTC: validate that every active checkpoint is still restorable.",
)
