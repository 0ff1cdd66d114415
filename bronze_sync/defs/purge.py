"""The purge_metadata_update job: record a source purge (wiring of bronze_sync.purge)."""

import dagster as dg
from pydantic import Field

from bronze_sync.alerts import notifier_for
from bronze_sync.clock import utc_now
from bronze_sync.config import parse_tables
from bronze_sync.config.models import Config
from bronze_sync.defs.resources import BronzeStorageResource
from bronze_sync.errors import BronzeSyncError
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.purge import (
    PurgeOutcome,
    PurgePlan,
    PurgeRequest,
    apply_purge,
    log_validation,
    parse_purge_date,
    prepare_purge,
)
from bronze_sync.purge.request import Approval

PURGE_JOB = "purge_metadata_update"
VALIDATE_OP = "validate_purge_request"
RECORD_OP = "record_purge_metadata"


class PurgeJobConfig(dg.Config):
    """Run config of purge_metadata_update."""

    tables: list[str] = Field(
        default=["All"], description='Bronze tables the source purged, or ["All"] (enabled ones).'
    )
    purge_date: str = Field(
        description="YYYY-MM-DD: the source purged rows created before this UTC date."
    )
    create_pre_purge_checkpoint: bool = Field(
        default=True, description="Pin the tables' current versions first (PrePurge, 365 days)."
    )
    dry_run: bool = Field(default=False, description="Validate and report only; write nothing.")
    force: bool = Field(default=False, description="Allow moving LastPurgeDate backwards.")
    notes: str | None = Field(default=None, description="Why; kept in the audit log.")
    approval_token: str | None = Field(
        default=None,
        description="purge.require_approval: the token an approved dry run of this purge printed.",
    )
    approved_by: str | None = Field(
        default=None, description="purge.require_approval: who approved it (audited)."
    )

    def request(self) -> PurgeRequest:
        """Return the domain request this config describes."""
        approval = None
        if self.approval_token or self.approved_by:
            approval = Approval(self.approval_token or "", self.approved_by or "")
        return PurgeRequest(
            purge_date=parse_purge_date(self.purge_date),
            tables=parse_tables(self.tables),
            create_pre_purge_checkpoint=self.create_pre_purge_checkpoint,
            dry_run=self.dry_run,
            force=self.force,
            notes=self.notes,
            approval=approval,
        )


def _failure(exc: BronzeSyncError) -> dg.Failure:
    return dg.Failure(
        description=str(exc), metadata={"error": type(exc).__name__}, allow_retries=False
    )


def _run(context: dg.OpExecutionContext) -> RunInfo:
    return RunInfo(run_id=context.run.run_id, pipeline_name=context.job_name)


def purge_job(app_config: Config) -> dg.JobDefinition:
    """Return the job that validates a purge, reports its impact and records it."""
    notifier = notifier_for(app_config)

    @dg.op(name=VALIDATE_OP, description="Validate the request and compute the impact report.")
    def validate_purge_request(
        context: dg.OpExecutionContext, config: PurgeJobConfig, bronze: BronzeStorageResource
    ) -> PurgePlan:
        store = bronze.store()
        now = utc_now()
        try:
            request = config.request()
            plan = prepare_purge(app_config, store, request, now)
        except BronzeSyncError as exc:
            raise _failure(exc) from None
        if not request.dry_run:
            log_validation(MetadataStore(store), _run(context), plan, now)
        context.log.info(plan.report.to_text())
        context.add_output_metadata(
            {
                "impact_report": dg.MetadataValue.md(plan.report.to_markdown()),
                "rows_to_purge": plan.report.total_to_purge,
                "tables": ", ".join(t.table for t in plan.report.tables),
                "dry_run": request.dry_run,
                **({"approval_token": plan.approval_token} if plan.approval_token else {}),
            }
        )
        if plan.approval_token:
            context.log.info(f"Approval token: {plan.approval_token}")
        return plan

    @dg.op(
        name=RECORD_OP,
        description="Pre-purge checkpoint, LastPurgeDate, PurgeRecorded audit rows, notification.",
    )
    def record_purge_metadata(
        context: dg.OpExecutionContext, plan: PurgePlan, bronze: BronzeStorageResource
    ) -> PurgeOutcome:
        run = _run(context)
        try:
            outcome = apply_purge(
                bronze.store(), plan, run, utc_now(), notifier, f"dagster run {run.run_id}"
            )
        except BronzeSyncError as exc:
            raise _failure(exc) from None
        if outcome.dry_run:
            context.log.info("dry run: nothing was written")
        context.add_output_metadata(
            {
                "dry_run": outcome.dry_run,
                "recorded_tables": ", ".join(outcome.recorded_tables) or "none",
                "pre_purge_checkpoint": outcome.checkpoint.name if outcome.checkpoint else "none",
                "impact_report": dg.MetadataValue.md(plan.report.to_markdown()),
            }
        )
        return outcome

    @dg.job(
        name=PURGE_JOB,
        executor_def=dg.in_process_executor,
        description=(
            "Record that the source purged rows created before a date: validate, report the "
            "impact, pin a PrePurge checkpoint, set LastPurgeDate, audit and notify. The next "
            "daily sync flags the vanished old rows IsPurged."
        ),
    )
    def purge_metadata_update() -> None:
        record_purge_metadata(validate_purge_request())

    return purge_metadata_update
