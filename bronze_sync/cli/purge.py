"""`bronze-sync purge`: record a source purge (runs the purge_metadata_update job)."""

from __future__ import annotations

import dataclasses

import click
from dagster import DagsterInstance

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli import cli, config_option, console
from bronze_sync.cli.job_runs import failure_message, run_job
from bronze_sync.cli.render import simple_table
from bronze_sync.cli.runner import dagster_instance
from bronze_sync.clock import utc_now
from bronze_sync.config import Config, load_config, parse_tables
from bronze_sync.defs.location import load_purge_job
from bronze_sync.defs.purge import RECORD_OP, VALIDATE_OP
from bronze_sync.errors import BronzeSyncError
from bronze_sync.metadata import MetadataStore
from bronze_sync.purge import (
    ImpactReport,
    PurgeOutcome,
    PurgeRequest,
    parse_purge_date,
)
from bronze_sync.purge.approval import require_approval
from bronze_sync.purge.impact import COLUMNS
from bronze_sync.purge.request import Approval, validate_request


@cli.command()
@config_option
@click.option(
    "--tables", required=True, help="Comma-separated tables the source purged, or All (enabled)."
)
@click.option(
    "--purge-date", required=True, help="YYYY-MM-DD: the source purged rows created before it."
)
@click.option("--dry-run", is_flag=True, help="Validate and print the impact; write nothing.")
@click.option("--force", is_flag=True, help="Allow moving LastPurgeDate backwards.")
@click.option(
    "--no-checkpoint", is_flag=True, help="Skip the pre-purge checkpoint (not recommended)."
)
@click.option("--notes", default=None, help="Why; kept in the audit log and PurgeHistory.")
@click.option(
    "--execute", is_flag=True, help="Record an approved purge (purge.require_approval is on)."
)
@click.option("--approval-token", default=None, help="The token the approved dry run printed.")
@click.option("--approved-by", default=None, help="Who approved it (kept in the audit log).")
def purge(
    config_path: str | None,
    tables: str,
    purge_date: str,
    dry_run: bool,
    force: bool,
    no_checkpoint: bool,
    notes: str | None,
    execute: bool,
    approval_token: str | None,
    approved_by: str | None,
) -> None:
    """Record that the source purged rows created before a date, so the next sync flags them
    IsPurged instead of IsDeleted.

    With purge.require_approval on, this is a dry run that prints an approval token; record
    the purge with --execute --approval-token T --approved-by NAME (exit 1 when the token is
    stale or used).
    """
    config = load_config(config_path)
    request = PurgeRequest(
        purge_date=parse_purge_date(purge_date),
        tables=parse_tables(tables),
        create_pre_purge_checkpoint=not no_checkpoint,
        dry_run=dry_run,
        force=force,
        notes=notes,
        approval=_approval(config, dry_run, execute, approval_token, approved_by),
    )
    if config.purge.require_approval and not execute:
        request = dataclasses.replace(request, dry_run=True)
    store = BronzeStore.from_config(config.bronze)
    # Fail fast with exit 2 on a bad request; the job validates again before writing.
    validate_request(config, store, MetadataStore(store), request, utc_now())
    with dagster_instance() as instance:
        outcome, run_id = execute_purge(config, instance, request)
    print_impact(outcome.plan.report)
    print_outcome(outcome, run_id)


def _approval(
    config: Config, dry_run: bool, execute: bool, token: str | None, approved_by: str | None
) -> Approval | None:
    """Return the approval an --execute carries; usage errors for options that do not fit."""
    if dry_run and execute:
        raise click.UsageError("--dry-run and --execute exclude each other")
    if not config.purge.require_approval:
        if token or approved_by:
            raise click.UsageError(
                "--approval-token/--approved-by need purge.require_approval: true in the config"
            )
        return None
    if not execute:
        return None
    return require_approval(Approval(token or "", approved_by or ""))


class PurgeJobError(BronzeSyncError):
    """The purge_metadata_update run failed."""


def execute_purge(
    config: Config, instance: DagsterInstance, request: PurgeRequest
) -> tuple[PurgeOutcome, str]:
    """Run the purge_metadata_update job for `request`; return its outcome and run id."""
    run_config = {
        VALIDATE_OP: {
            "config": {
                "tables": list(request.tables or ["All"]),
                "purge_date": request.purge_date.isoformat(),
                "create_pre_purge_checkpoint": request.create_pre_purge_checkpoint,
                "dry_run": request.dry_run,
                "force": request.force,
                "notes": request.notes,
                "approval_token": request.approval.token if request.approval else None,
                "approved_by": request.approval.approved_by if request.approval else None,
            }
        }
    }
    with run_job(load_purge_job, config, instance, run_config) as result:
        if not result.success:
            raise PurgeJobError(f"purge not recorded: {failure_message(result)}")
        return result.output_for_node(RECORD_OP), result.run_id


def print_impact(report: ImpactReport) -> None:
    """Print the impact report and its warnings."""
    console.print(
        simple_table(
            f"Purge impact: active rows created before {report.purge_date} become IsPurged "
            "when they vanish from the source",
            COLUMNS,
            report.rows(),
        )
    )
    for table in report.tables:
        for warning in table.warnings():
            console.print(f"[yellow]{table.table}[/]: {warning}")


def print_outcome(outcome: PurgeOutcome, run_id: str) -> None:
    """Print what was recorded (or that nothing was, for a dry run)."""
    if outcome.dry_run and outcome.plan.approval_token:
        console.print(f"Approval token: {outcome.plan.approval_token}")
        console.print(
            "[bold]Dry run[/]: nothing was written. Once the purge is approved, record it with "
            "the same --tables and --purge-date plus --execute --approval-token <token> "
            "--approved-by <name>. The token lapses when a table changes."
        )
        return
    if outcome.dry_run:
        console.print("[bold]Dry run[/]: nothing was written. Re-run without --dry-run to record.")
        return
    if outcome.checkpoint is not None:
        console.print(
            f"Pre-purge checkpoint [bold]{outcome.checkpoint.name}[/] pins "
            + ", ".join(f"{t}@v{v}" for t, v in sorted(outcome.checkpoint.table_versions.items()))
            + f" (expires: {outcome.checkpoint.expires()})"
        )
    console.print(
        f"LastPurgeDate = {outcome.plan.request.purge_date} recorded for "
        f"{', '.join(outcome.recorded_tables)} (run {run_id[:8]}). The next sync flags the "
        "vanished old rows IsPurged and compares the counts with this report."
    )
