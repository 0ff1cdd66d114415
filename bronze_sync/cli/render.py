"""Readable tables for the terminal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bronze_sync.cli.runner import RunOutcome

COUNTS = ["inserted", "updated", "deleted", "purged", "undeleted", "unchanged"]


def run_table(outcome: RunOutcome) -> Table:
    """Return one row per table with its counts, or its error."""
    table = Table(title=f"Sync batch {outcome.partition_key} (run {outcome.run_id[:8]})")
    table.add_column("table")
    table.add_column("status")
    for name in [*COUNTS, "source rows", "version", "seconds"]:
        table.add_column(name, justify="right")
    for t in outcome.tables:
        style = {"Success": "green", "Failed": "red"}.get(t.status, "yellow")
        if t.status == "Success":
            f = t.figures
            values = [_n(f.get(c)) for c in COUNTS]
            values += [_n(f.get("source_rows")), _n(f.get("delta_version")), _s(f.get("seconds"))]
            table.add_row(t.table, f"[{style}]{t.status}[/]", *values)
        else:
            table.add_row(t.table, f"[{style}]{t.status}[/]", *([""] * (len(COUNTS) + 3)))
    return table


def print_run(console: Console, outcome: RunOutcome) -> None:
    """Print a run's table, its errors and its checkpoint."""
    console.print(run_table(outcome))
    for t in outcome.tables:
        if t.error:
            reason = " ".join(t.error.removeprefix(f"{t.table}: ").split())
            console.print(Text.assemble((t.table, "red"), f": {reason}"), soft_wrap=True)
    if outcome.checkpoint:
        console.print(
            f"Checkpoint [bold]{outcome.checkpoint.name}[/] pins "
            f"{_versions(outcome.checkpoint.table_versions)}"
        )


def simple_table(title: str, columns: list[str], rows: Iterable[Iterable[Any]]) -> Table:
    """Return a table with right-aligned numbers."""
    table = Table(title=title)
    rows = [list(r) for r in rows]
    for i, column in enumerate(columns):
        numeric = bool(rows) and all(isinstance(r[i], int | float) or r[i] is None for r in rows)
        table.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(
            *(_n(v) if isinstance(v, int | float) else ("" if v is None else str(v)) for v in row)
        )
    return table


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
