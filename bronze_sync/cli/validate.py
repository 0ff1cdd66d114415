"""The validate, breaker and report commands: monitoring from the command line."""

from __future__ import annotations

import datetime as dt
import sys
import uuid

import click
from rich.table import Table

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli import cli, config_option, console, split_tables, tables_option
from bronze_sync.cli.render import config_line, simple_table
from bronze_sync.clock import utc_now
from bronze_sync.config import load_config
from bronze_sync.defs.partitions import check_partition_key
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.metadata.pipeline_config import read_all
from bronze_sync.monitoring.breaker import consecutive_failures, reset_breaker
from bronze_sync.monitoring.publish import publish_report
from bronze_sync.validation import CheckResult, validate_tables


def results_table(results: list[CheckResult]) -> Table:
    """Return one row per check evaluation: table, check, severity, verdict, message."""
    table = Table(title="Bronze checks")
    for column in ("table", "check", "severity", "result", "message"):
        table.add_column(column)
    for r in results:
        if r.skipped:
            verdict = "[yellow]SKIPPED[/]"
        elif r.passed:
            verdict = "[green]PASS[/]"
        else:
            verdict = "[red]FAIL[/]" if r.blocking_failure else "[yellow]WARN[/]"
        table.add_row(r.table, r.check, r.severity.value, verdict, r.message)
    return table


@cli.command()
@config_option
@tables_option
def validate(config_path: str | None, tables: str | None) -> None:
    """Run the bronze checks; exit 1 when an ERROR check fails."""
    config = load_config(config_path)
    names = split_tables(tables)
    config.select_tables(names)  # unknown names fail here (exit 2)
    console.print(config_line(config), soft_wrap=True)
    results = validate_tables(config, names, run_id=f"cli-validate-{uuid.uuid4()}")
    console.print(results_table(results))
    failures = [r for r in results if r.blocking_failure]
    warnings = [r for r in results if not r.passed and not r.blocking_failure]
    console.print(
        f"{len(results)} check(s): {len(failures)} ERROR failure(s), {len(warnings)} warning(s)"
    )
    unreadable = sorted({r.table for r in results if r.message.startswith("unreadable: ")})
    if unreadable:
        console.print(f"unreadable bronze table(s): {', '.join(unreadable)}")
    if failures:
        sys.exit(1)


@cli.group()
def breaker() -> None:
    """Inspect or close tables' circuit breakers."""


@breaker.command("reset")
@config_option
@click.option("--tables", required=True, help="Comma-separated tables whose breaker to close.")
def breaker_reset(config_path: str | None, tables: str) -> None:
    """Close the circuit breaker of tables so the next sync runs them again."""
    config = load_config(config_path)
    selected = config.select_tables(split_tables(tables))
    meta = MetadataStore(BronzeStore.from_config(config.bronze))
    run = RunInfo(run_id=f"cli-breaker-reset-{uuid.uuid4()}", pipeline_name="breaker_reset")
    now = utc_now()
    for table in selected:
        before = consecutive_failures(meta, table.name)
        reset_breaker(meta, table, run, now, by="bronze-sync breaker reset")
        console.print(f"{table.name}: breaker closed ({before} consecutive failure(s) cleared)")


@breaker.command("status")
@config_option
def breaker_status(config_path: str | None) -> None:
    """Show each table's consecutive failures and whether its breaker is open."""
    config = load_config(config_path)
    meta = MetadataStore(BronzeStore.from_config(config.bronze))
    states = read_all(meta)
    rows = []
    for table in config.tables:
        since = states.get(table.name, {}).get("BreakerOpenSince")
        rows.append(
            [
                table.name,
                consecutive_failures(meta, table.name),
                "OPEN" if since else "closed",
                since.strftime("%Y-%m-%d %H:%M") if since else "",
            ]
        )
    console.print(
        simple_table("Circuit breakers", ["table", "failures", "breaker", "open since"], rows)
    )


@cli.command()
@config_option
@click.option("--day", default=None, help="Report day YYYY-MM-DD (default: today, UTC).")
@click.option("--days", default=7, show_default=True, help="Days of trend in the charts.")
@click.option("--email/--no-email", default=None, help="Email it (default: alerts setting).")
@click.option(
    "--out",
    default=None,
    type=click.Path(dir_okay=False),
    help="Write the HTML to this local file instead of {bronze.path}/reports/.",
)
def report(
    config_path: str | None, day: str | None, days: int, email: bool | None, out: str | None
) -> None:
    """Write the health report under {bronze.path}/reports/ (HTML with charts)."""
    config = load_config(config_path)
    when = dt.date.fromisoformat(check_partition_key(day)) if day else utc_now().date()
    published = publish_report(config, when, days, email, out)
    console.print(published.markdown)
    console.print(
        f"Report written to {published.path}" + (" and emailed" if published.emailed else "")
    )
