"""The validate, breaker and report commands: monitoring from the command line."""

from __future__ import annotations

import sys
import uuid

from rich.table import Table

from bronze_sync.cli import cli, config_option, console, split_tables, tables_option
from bronze_sync.config import load_config
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
    results = validate_tables(config, names, run_id=f"cli-validate-{uuid.uuid4()}")
    console.print(results_table(results))
    failures = [r for r in results if r.blocking_failure]
    warnings = [r for r in results if not r.passed and not r.blocking_failure]
    console.print(
        f"{len(results)} check(s): {len(failures)} ERROR failure(s), {len(warnings)} warning(s)"
    )
    if failures:
        sys.exit(1)
