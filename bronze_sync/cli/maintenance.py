"""`bronze-sync maintenance [--dry-run] [--tables a,b]` (runs the weekly_maintenance job)."""

from __future__ import annotations

import sys
from typing import Any

import click

from bronze_sync.cli import cli, config_option, console, err_console, split_tables, tables_option
from bronze_sync.cli.job_runs import failure_message, run_job
from bronze_sync.cli.runner import dagster_instance
from bronze_sync.config import load_config
from bronze_sync.defs.location import load_maintenance_job
from bronze_sync.defs.maintenance import MAINTENANCE_OP, SUMMARY_TEXT


@cli.command()
@config_option
@tables_option
@click.option("--dry-run", is_flag=True, help="Print what would be removed; change nothing.")
@click.option("--skip-metadata", is_flag=True, help="Leave the metadata tables alone.")
def maintenance(
    config_path: str | None, tables: str | None, dry_run: bool, skip_metadata: bool
) -> None:
    """Deactivate expired checkpoints, then VACUUM and OPTIMIZE bronze without breaking an
    active checkpoint; exit 1 when a table failed."""
    config = load_config(config_path)
    names = split_tables(tables)
    config.select_tables(names)  # unknown table: exit 2 before anything runs
    ops = {
        MAINTENANCE_OP: {
            "config": {
                "dry_run": dry_run,
                "tables": names or ["All"],
                "include_metadata": not skip_metadata,
            }
        }
    }
    with (
        dagster_instance() as instance,
        run_job(load_maintenance_job, config, instance, ops) as result,
    ):
        if result.success:
            console.print(result.output_for_node(MAINTENANCE_OP).to_text(), markup=False)
            return
        text = _failure_text(result) or failure_message(result)
    err_console.print(text, markup=False)
    sys.exit(1)


def _failure_text(result: Any) -> str | None:
    for event in result.get_step_failure_events():
        user = event.step_failure_data.user_failure_data
        if user is not None and SUMMARY_TEXT in (user.metadata or {}):
            return str(user.metadata[SUMMARY_TEXT].value)
    return None
