"""`bronze-sync history`: one row's timeline, and the backfill of tables synced before it."""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from bronze_sync.bronze.lease import LeaseRequest, hold_lease
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli import cli, config_option, console, err_console, split_tables, tables_option
from bronze_sync.config import Config, load_config
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import BronzeSyncError, ConfigError, HistoryError
from bronze_sync.history.backfill import backfill_history
from bronze_sync.history.feed import NoHistoryError
from bronze_sync.history.timeline import ColumnChange, TimelineEntry, row_timeline

VALUE_WIDTH = 32  # longer values are shortened in the terminal (never in --json or --out)


@cli.command()
@config_option
@click.option("--table", "table_name", default=None, help="The bronze table of the row.")
@click.option(
    "--key",
    "key_values",
    multiple=True,
    help="The row's key: VALUE for a one-column key, else col=value for each key column "
    "(repeat the option).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON (for scripts).")
@click.option(
    "--backfill",
    is_flag=True,
    help="Rebuild the history of tables synced before history existed (with --tables).",
)
@tables_option
def history(
    config_path: str | None,
    table_name: str | None,
    key_values: tuple[str, ...],
    as_json: bool,
    backfill: bool,
    tables: str | None,
) -> None:
    """Show one bronze row's timeline, newest first, or backfill tables' history.

    Each version that changed the row shows when (UTC), which run and sync batch made it,
    the operation and each changed column's old and new value. Exit 1 when the key was
    never in the table.
    """
    if backfill:
        if table_name or key_values or as_json:
            raise click.UsageError(
                "--backfill rebuilds whole tables (select them with --tables); it does not "
                "take --table, --key or --json"
            )
        config = load_config(config_path)
        failed = backfill_tables(config, split_tables(tables))
        if failed:
            sys.exit(1)
        return
    if tables:
        raise click.UsageError("--tables goes with --backfill; a row's timeline takes --table")
    if not table_name or not key_values:
        raise click.UsageError("give --table T --key K (a row's timeline), or --backfill")
    config = load_config(config_path)
    table = configured_table(config, table_name)
    keys = list(table.primary_key)
    key = parse_key(key_values, keys, table.name)
    store = BronzeStore.from_config(config.bronze)
    try:
        entries = row_timeline(store, table.name, keys, key)
    except NoHistoryError as exc:
        raise with_hint(exc) from None
    if as_json:
        click.echo(json.dumps([e.as_json() for e in entries], indent=2))
    else:
        console.print(timeline_table(table.name, key, entries))


def with_hint(exc: NoHistoryError) -> NoHistoryError:
    """Return the error with what writes a history, unless it already says so."""
    text = str(exc)
    if "--backfill" in text:
        return exc
    return NoHistoryError(
        f"{text}: it is written by the next sync, or by `bronze-sync history --backfill` "
        "for a table synced before history existed"
    )


def configured_table(config: Config, name: str) -> TableConfig:
    """Return the configured table `name`; an unknown one is "no such table" (exit 1)."""
    try:
        return config.table(name)
    except ConfigError as exc:
        raise HistoryError(str(exc)) from None


def parse_key(values: Sequence[str], keys: list[str], table: str) -> dict[str, str]:
    """Return the key columns' values of `--key VALUE` (one-column key) or `--key col=value`."""
    named = {k.lower(): k for k in keys}
    if len(keys) == 1 and len(values) == 1:
        name, sep, value = values[0].partition("=")
        if sep and name.lower() in named:
            return {keys[0]: value}
        return {keys[0]: values[0]}
    key: dict[str, str] = {}
    for text in values:
        name, sep, value = text.partition("=")
        if not sep:
            raise ConfigError(
                f"table {table} has key columns {', '.join(keys)}: give --key col=value "
                f"for each (got {text!r})"
            )
        column = named.get(name.strip().lower(), name.strip())
        if column in key:
            raise ConfigError(f"--key gives column {column} twice")
        key[column] = value
    return key


def timeline_table(table: str, key: dict[str, str], entries: list[TimelineEntry]) -> Table:
    """Return the timeline as a table: one line per changed column, newest version first."""
    shown = ", ".join(f"{k}={v}" for k, v in key.items())
    grid = Table(title=f"History of {table} row {shown}: {len(entries)} version(s), newest first")
    grid.add_column("version", justify="right")
    grid.add_column("when (UTC)", no_wrap=True)
    for name in ("run", "partition", "operation", "column", "old", "new"):
        grid.add_column(name)
    for i, entry in enumerate(entries):
        oldest = i == len(entries) - 1
        head = [
            Text(str(entry.version)),
            Text(utc_text(entry.changed_at)),
            Text(_run(entry.run_id)),
            Text(entry.partition_key or ""),
            Text(entry.operation + (" (row removed)" if entry.removed else "")),
        ]
        changes: list[ColumnChange | None] = list(entry.changes) or [None]
        for j, change in enumerate(changes):
            cells = head if j == 0 else [Text("")] * len(head)
            last = j == len(changes) - 1
            if change is None:
                grid.add_row(*cells, Text(""), Text(""), Text(""), end_section=last)
                continue
            old = _old(change, entry, oldest)
            new = Text(show_value(change.new))
            grid.add_row(*cells, Text(change.column), old, new, end_section=last)
    return grid


def _old(change: ColumnChange, entry: TimelineEntry, oldest: bool) -> Text:
    """Return the old value's cell ('?' where the history does not know it)."""
    if not oldest:
        return Text(show_value(change.old))
    # The oldest entry has nothing before it: a new row, or history started later.
    return Text("" if entry.operation == "INSERT" else "?", style="dim")


def utc_text(when: dt.datetime | None) -> str:
    """Return a time as `YYYY-MM-DD HH:MM:SS` UTC (blank for none)."""
    return "" if when is None else f"{when.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}"


def _run(run_id: str | None) -> str:
    if not run_id:
        return ""
    if len(run_id) == 36 and run_id[8] == "-":  # a Dagster run id: its prefix, as elsewhere
        return run_id[:8]
    return shorten(run_id, 20)


def show_value(value: Any) -> str:
    """Return a value as short text for the terminal."""
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
    elif isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ").replace("+00:00", "Z")
    else:
        text = str(value)
    return shorten(" ".join(text.split()) if "\n" in text else text, VALUE_WIDTH)


def shorten(text: str, width: int) -> str:
    """Return `text` cut to `width` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def backfill_tables(config: Config, names: list[str] | None) -> list[str]:
    """Backfill each table's history holding its lease; print each report; return failures."""
    chosen = config.select_tables(names)
    store = BronzeStore.from_config(config.bronze)
    run_id = f"history-{uuid.uuid4()}"
    failed = []
    for table in chosen:
        request = LeaseRequest(
            run_id,
            purpose="history",
            seconds=config.sync.lease_seconds,
            wait_seconds=config.sync.lease_wait_seconds,
            on_wait=_waiting(table.name),
        )
        try:
            with hold_lease(store, table.name, request):
                report = backfill_history(store, table.name, list(table.primary_key))
        except BronzeSyncError as exc:
            failed.append(table.name)
            reason = " ".join(str(exc).removeprefix(f"{table.name}: ").split())
            err_console.print(Text.assemble((table.name, "red"), f": {reason}"), soft_wrap=True)
            continue
        text = report.describe().removeprefix(table.name)
        style = "yellow" if report.lost else "green"
        console.print(Text.assemble((table.name, style), text), soft_wrap=True)
    return failed


def _waiting(table: str) -> Callable[[str], None]:
    """Return the lease-wait callback that tells which writer a table waits for."""

    def tell(message: str) -> None:
        console.print(f"{table}: {message}")

    return tell
