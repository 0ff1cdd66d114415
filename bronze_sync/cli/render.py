"""Readable tables for the terminal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bronze_sync.cli.outcomes import SUCCESS, UP_TO_DATE, RunOutcome
from bronze_sync.config.models import Config

COUNTS = ["inserted", "updated", "deleted", "purged", "undeleted", "unchanged"]


def run_table(outcome: RunOutcome) -> Table:
    """Return one row per table with its counts (and partition values), or its error."""
    runs = ", ".join(r[:8] for r in outcome.run_ids or [outcome.run_id])
    plural = "s" if len(outcome.run_ids) > 1 else ""
    table = Table(title=f"Sync batch {outcome.partition_key} (run{plural} {runs})")
    table.add_column("table")
    table.add_column("status")
    with_values = any(
        "partition_values" in t.figures or t.status == UP_TO_DATE for t in outcome.tables
    )
    if with_values:
        table.add_column("partition values", no_wrap=True)
    for name in [*COUNTS, "source rows", "version", "seconds"]:
        table.add_column(name, justify="right")
    for t in outcome.tables:
        style = {SUCCESS: "green", UP_TO_DATE: "green", "Failed": "red"}.get(t.status, "yellow")
        cells = [str(t.figures.get("partition_values", ""))] if with_values else []
        if t.status == SUCCESS:
            f = t.figures
            cells += [_n(f.get(c)) for c in COUNTS]
            cells += [_n(f.get("source_rows")), _n(f.get("delta_version")), _s(f.get("seconds"))]
        else:
            cells += [""] * (len(COUNTS) + 3)
        table.add_row(t.table, f"[{style}]{t.status}[/]", *cells)
    return table


def print_run(console: Console, outcome: RunOutcome) -> None:
    """Print a run's table, its errors and its checkpoint."""
    console.print(run_table(outcome))
    for t in outcome.tables:
        if t.note:
            console.print(Text.assemble((t.table, "green"), f": {t.note}"), soft_wrap=True)
        if t.error:
            reason = " ".join(t.error.removeprefix(f"{t.table}: ").split())
            console.print(Text.assemble((t.table, "red"), f": {reason}"), soft_wrap=True)
    if outcome.checkpoint:
        console.print(
            f"Checkpoint [bold]{outcome.checkpoint.name}[/] pins "
            f"{_versions(outcome.checkpoint.table_versions)}"
        )


def simple_table(
    title: str, columns: list[str], rows: Iterable[Iterable[Any]], no_wrap: Iterable[str] = ()
) -> Table:
    """Return a table with right-aligned numbers (`no_wrap` columns keep their text whole)."""
    table = Table(title=title)
    lines = [list(r) for r in rows]
    whole = set(no_wrap)
    for i, column in enumerate(columns):
        numeric = bool(lines) and all(isinstance(r[i], int | float) or r[i] is None for r in lines)
        table.add_column(column, justify="right" if numeric else "left", no_wrap=column in whole)
    for row in lines:
        table.add_row(
            *(_n(v) if isinstance(v, int | float) else ("" if v is None else str(v)) for v in row)
        )
    return table


def config_line(config: Config) -> str:
    """Return which configuration file and profile a command uses, in one line."""
    profile = f"profile {config.profile}" if config.profile else "no profile"
    return f"Configuration {config.file or '(in memory)'} ({profile})"


def _versions(versions: dict[str, int]) -> str:
    return ", ".join(f"{k}@v{v}" for k, v in sorted(versions.items()))


def _n(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _s(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else ""
