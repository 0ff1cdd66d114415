"""`bronze-sync rollback` and `bronze-sync rollbacks` (run the rollback_to_checkpoint job)."""

from __future__ import annotations

import getpass
from typing import Any

import click

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli import cli, config_option, console
from bronze_sync.cli.checkpoints import checkpoint_type as checkpoint_type_option
from bronze_sync.cli.job_runs import failure_message, run_job
from bronze_sync.cli.render import simple_table
from bronze_sync.cli.runner import dagster_instance
from bronze_sync.config import Config, load_config, parse_tables
from bronze_sync.defs.location import load_rollback_job
from bronze_sync.defs.rollback import ANALYSE_OP, RESTORE_OP
from bronze_sync.errors import BronzeSyncError
from bronze_sync.metadata import MetadataStore
from bronze_sync.rollback import (
    ImpactReport,
    RollbackOutcome,
    RollbackRequest,
    list_rollbacks,
)
from bronze_sync.rollback.approval import check_token
from bronze_sync.rollback.impact import COLUMNS
from bronze_sync.rollback.request import find_rollback_checkpoint, validate_rollback
from bronze_sync.rollback.secret import approval_secret


class RollbackJobError(BronzeSyncError):
    """The rollback_to_checkpoint run failed (some tables may have been restored)."""


@cli.command()
@config_option
@click.option("--checkpoint", "checkpoint_name", required=True, help="Checkpoint to roll back to.")
@click.option("--type", "checkpoint_type", default=None, help="Only a checkpoint of this type.")
@click.option("--tables", default=None, help="Comma-separated tables (default: all it pins).")
@click.option("--execute", is_flag=True, help="Restore (default: dry run with impact analysis).")
@click.option("--approval-token", default=None, help="The token the dry run printed.")
@click.option("--reason", default=None, help="Why; kept in the audit trail.")
@click.option("--requested-by", default=None, help="Who (default: the OS user).")
def rollback(
    config_path: str | None,
    checkpoint_name: str,
    checkpoint_type: str | None,
    tables: str | None,
    execute: bool,
    approval_token: str | None,
    reason: str | None,
    requested_by: str | None,
) -> None:
    """Roll bronze tables back to a checkpoint: a dry run with its impact and approval token,
    or, with --execute --approval-token, the restore."""
    config = load_config(config_path)
    request = RollbackRequest(
        checkpoint_name=checkpoint_name,
        checkpoint_type=checkpoint_type_option(checkpoint_type),
        tables=parse_tables(tables),
        dry_run=not execute,
        require_approval=config.rollback.require_approval,
        approval_token=approval_token,
        reason=reason,
        requested_by=requested_by or _user(),
    )
    _precheck(config, request)  # exit 2 before any run; the job checks again
    with dagster_instance() as instance:
        outcome, run_id = execute_rollback_job(config, instance, request)
    print_impact(outcome.plan.report)
    print_outcome(outcome, run_id)


@cli.command()
@config_option
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
def rollbacks(config_path: str | None, limit: int) -> None:
    """List past rollbacks, dry runs included."""
    config = load_config(config_path)
    found = list_rollbacks(MetadataStore(BronzeStore.from_config(config.bronze)), limit)
    rows = [
        [
            r.created.strftime("%Y-%m-%d %H:%M"),
            r.rollback_id[:8],
            r.checkpoint,
            ", ".join(r.tables),
            r.status,
            r.quality,
            r.requested_by,
            r.reason,
        ]
        for r in found
    ]
    columns = ["when (UTC)", "id", "checkpoint", "tables", "status", "quality", "by", "reason"]
    console.print(simple_table("Rollbacks (newest first)", columns, rows))
    if not found:
        console.print("No rollback has been requested yet.")


def execute_rollback_job(
    config: Config, instance: Any, request: RollbackRequest
) -> tuple[RollbackOutcome, str]:
    """Run rollback_to_checkpoint for `request`; return its outcome and run id."""
    ops = {
        ANALYSE_OP: {
            "config": {
                "checkpoint_name": request.checkpoint_name,
                "checkpoint_type": request.checkpoint_type.value
                if request.checkpoint_type
                else None,
                "tables_scope": list(request.tables or ["All"]),
                "dry_run": request.dry_run,
                "require_approval": request.require_approval,
                "approval_token": request.approval_token,
                "reason": request.reason,
                "requested_by": request.requested_by,
            }
        }
    }
    with run_job(load_rollback_job, config, instance, ops) as result:
        if not result.success:
            raise RollbackJobError(f"rollback failed: {failure_message(result)}")
        return result.output_for_node(RESTORE_OP), result.run_id


def print_impact(report: ImpactReport) -> None:
    """Print the impact analysis, its warnings and sample keys."""
    title = (
        f"Rollback to {report.checkpoint.name} ({report.checkpoint.type.value}, "
        f"{report.checkpoint.created:%Y-%m-%d %H:%M} UTC): risk {report.risk.value}"
    )
    console.print(simple_table(title, COLUMNS, report.rows()))
    labels = {"removed": "disappear", "reappearing": "reappear", "value_changes": "values change"}
    for impact in report.tables:
        for warning in impact.warnings:
            console.print(f"[yellow]{impact.table}[/]: {warning}", highlight=False)
        for key, label in labels.items():
            sample = impact.comparison.samples.get(key)
            if sample:
                console.print(f"{impact.table} {label}: {', '.join(sample)}", highlight=False)


def print_outcome(outcome: RollbackOutcome, run_id: str) -> None:
    """Print the approval token of a dry run, or what the restore did."""
    if outcome.dry_run:
        console.print("[bold]Dry run[/]: nothing was restored.")
        click.echo(f"Approval token: {outcome.plan.token}")
        click.echo(
            f"To restore: bronze-sync rollback --checkpoint {outcome.plan.checkpoint.name} "
            f"--execute --approval-token {outcome.plan.token}"
        )
        return
    for r in outcome.results:
        console.print(
            f"{r.table}: v{r.target.current_version} restored to v{r.target.checkpoint_version} "
            f"as v{r.new_version}",
            highlight=False,
        )
    post = outcome.post_checkpoint
    if post is not None:
        console.print(
            f"Undo checkpoint [bold]{post.name}[/] (PostRollback, kept until "
            f"{post.retention_date}); run {run_id[:8]}.",
            highlight=False,
        )


def _precheck(config: Config, request: RollbackRequest) -> None:
    store = BronzeStore.from_config(config.bronze)
    meta = MetadataStore(store)
    checkpoint = find_rollback_checkpoint(meta, request)
    targets = validate_rollback(store, checkpoint, request.tables)
    if not request.dry_run and request.require_approval:
        secret = approval_secret(config.rollback.approval_secret)
        check_token(meta, secret, checkpoint, targets, request.approval_token)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
