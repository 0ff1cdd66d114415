"""`bronze-sync purge`: record a source purge (runs the purge_metadata_update job)."""

from __future__ import annotations

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
from bronze_sync.purge.impact import COLUMNS
from bronze_sync.purge.request import validate_request


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
def purge(
    config_path: str | None,
    tables: str,
    purge_date: str,
    dry_run: bool,
    force: bool,
    no_checkpoint: bool,
    notes: str | None,
) -> None:
    """Record that the source purged rows created before a date, so the next sync flags them
    IsPurged instead of IsDeleted."""
    config = load_config(config_path)
    request = PurgeRequest(
        purge_date=parse_purge_date(purge_date),
        tables=parse_tables(tables),
        create_pre_purge_checkpoint=not no_checkpoint,
        dry_run=dry_run,
        force=force,
        notes=notes,
    )
    store = BronzeStore.from_config(config.bronze)
    # Fail fast with exit 2 on a bad request; the job validates again before writing.
    validate_request(config, store, MetadataStore(store), request, utc_now())
    with dagster_instance() as instance:
        outcome, run_id = execute_purge(config, instance, request)
    print_impact(outcome.plan.report)
    print_outcome(outcome, run_id)


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
    if outcome.dry_run:
        console.print("[bold]Dry run[/]: nothing was written. Re-run without --dry-run to record.")
        return
    if outcome.checkpoint is not None:
        console.print(
            f"Pre-purge checkpoint [bold]{outcome.checkpoint.name}[/] pins "
            + ", ".join(f"{t}@v{v}" for t, v in sorted(outcome.checkpoint.table_versions.items()))
            + f" (kept until {outcome.checkpoint.retention_date})"
        )
    console.print(
        f"LastPurgeDate = {outcome.plan.request.purge_date} recorded for "
        f"{', '.join(outcome.recorded_tables)} (run {run_id[:8]}). The next sync flags the "
        "vanished old rows IsPurged and compares the counts with this report."
    )
