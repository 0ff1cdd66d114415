"""The rollback_to_checkpoint job (wiring of bronze_sync.rollback)."""

import dagster as dg
from pydantic import Field

from bronze_sync.alerts import notifier_for
from bronze_sync.checkpoints import CheckpointType
from bronze_sync.clock import utc_now
from bronze_sync.config import parse_tables
from bronze_sync.config.models import Config
from bronze_sync.defs.resources import BronzeStorageResource
from bronze_sync.errors import BronzeSyncError
from bronze_sync.metadata import RunInfo
from bronze_sync.rollback import (
    RollbackOutcome,
    RollbackPlan,
    RollbackRequest,
    execute_rollback,
    prepare_rollback,
)
from bronze_sync.rollback.request import PIPELINE_NAME, RollbackValidationError

ROLLBACK_JOB = PIPELINE_NAME
ANALYSE_OP = "analyse_rollback"
RESTORE_OP = "restore_to_checkpoint"


class RollbackJobConfig(dg.Config):
    """Run config of rollback_to_checkpoint."""

    checkpoint_name: str = Field(description="The checkpoint to roll back to.")
    checkpoint_type: str | None = Field(
        default=None, description="Only a checkpoint of this type (Daily, Manual, ...)."
    )
    tables_scope: list[str] = Field(
        default=["All"], description='Tables to roll back, or ["All"] (every table it pins).'
    )
    dry_run: bool = Field(default=True, description="Validate and analyse only (the default).")
    require_approval: bool = Field(
        default=True, description="Execution needs the approval_token of a dry run."
    )
    approval_token: str | None = Field(default=None, description="Token printed by the dry run.")
    reason: str | None = Field(default=None, description="Why; kept in the audit trail.")
    requested_by: str | None = Field(default=None, description="Who; kept in the audit trail.")

    def request(self, run_id: str) -> RollbackRequest:
        """Return the domain request this config describes."""
        try:
            kind = CheckpointType(self.checkpoint_type) if self.checkpoint_type else None
        except ValueError:
            known = ", ".join(t.value for t in CheckpointType)
            raise RollbackValidationError(
                f"checkpoint_type {self.checkpoint_type!r} is not one of {known}"
            ) from None
        return RollbackRequest(
            checkpoint_name=self.checkpoint_name,
            checkpoint_type=kind,
            tables=parse_tables(self.tables_scope),
            dry_run=self.dry_run,
            require_approval=self.require_approval,
            approval_token=self.approval_token,
            reason=self.reason,
            requested_by=self.requested_by or f"dagster run {run_id}",
        )


def _failure(exc: BronzeSyncError) -> dg.Failure:
    return dg.Failure(
        description=str(exc), metadata={"error": type(exc).__name__}, allow_retries=False
    )


def _run(context: dg.OpExecutionContext) -> RunInfo:
    return RunInfo(run_id=context.run.run_id, pipeline_name=context.job_name)


def outcome_markdown(outcome: RollbackOutcome) -> str:
    """Return what the restore did, per table, as Markdown."""
    checks = {c.table: c for c in outcome.checks}
    lines = ["| table | restored | new version | validation |", "|---|---|---|---|"]
    for r in outcome.results:
        check = checks.get(r.table)
        verdict = "passed" if check and check.passed else "; ".join(check.problems) if check else ""
        done = "yes" if r.success else f"**FAILED**: {r.error}"
        lines.append(f"| {r.table} | {done} | {r.new_version} | {verdict} |")
    return "\n".join(lines)


def rollback_job(app_config: Config) -> dg.JobDefinition:
    """Return the job that validates, analyses, approves and executes a rollback."""
    notifier = notifier_for(app_config)

    @dg.op(name=ANALYSE_OP, description="Validate the checkpoint, analyse impact, check approval.")
    def analyse_rollback(
        context: dg.OpExecutionContext, config: RollbackJobConfig, bronze: BronzeStorageResource
    ) -> RollbackPlan:
        try:
            request = config.request(context.run.run_id)
            plan = prepare_rollback(app_config, bronze.store(), request, _run(context), utc_now())
        except BronzeSyncError as exc:
            raise _failure(exc) from None
        context.log.info(plan.report.to_text())
        context.add_output_metadata(
            {
                "impact_report": dg.MetadataValue.md(plan.report.to_markdown()),
                "risk": plan.report.risk.value,
                "approval_token": plan.token,
                "dry_run": request.dry_run,
                "tables": ", ".join(t.table for t in plan.targets),
            }
        )
        return plan

    @dg.op(
        name=RESTORE_OP,
        description="Restore each table, validate it, snapshot, report, PostRollback checkpoint.",
    )
    def restore_to_checkpoint(
        context: dg.OpExecutionContext, plan: RollbackPlan, bronze: BronzeStorageResource
    ) -> RollbackOutcome:
        try:
            outcome = execute_rollback(
                app_config, bronze.store(), plan, _run(context), notifier, context.log.info
            )
        except BronzeSyncError as exc:  # e.g. the approval token was used meanwhile
            raise _failure(exc) from None
        if outcome.dry_run:
            context.log.info(f"dry run: nothing was restored. Approval token: {plan.token}")
            context.add_output_metadata({"dry_run": True})
            return outcome
        post = outcome.post_checkpoint.name if outcome.post_checkpoint else "none"
        metadata: dict[str, dg.MetadataValue | str | bool] = {
            "dry_run": False,
            "result": dg.MetadataValue.md(outcome_markdown(outcome)),
            "post_rollback_checkpoint": post,
        }
        if not outcome.success:
            raise dg.Failure(
                description="rollback incomplete:\n" + outcome_markdown(outcome),
                metadata=metadata,
                allow_retries=False,
            )
        context.add_output_metadata(metadata)
        return outcome

    @dg.job(
        name=ROLLBACK_JOB,
        executor_def=dg.in_process_executor,
        description=(
            "Roll bronze tables back to a checkpoint. Dry run by default: validates the "
            "checkpoint, reports the impact and returns an approval token; run again with "
            "dry_run false and that token to restore. Metadata tables are never rolled back."
        ),
    )
    def rollback_to_checkpoint() -> None:
        restore_to_checkpoint(analyse_rollback())

    return rollback_to_checkpoint
