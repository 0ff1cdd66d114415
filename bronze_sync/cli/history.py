"""`bronze-sync history` (one row's timeline, backfill) and `bronze-sync changes` (the feed)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.table import Table
from rich.text import Text

from bronze_sync.bronze.lease import LeaseRequest, hold_lease
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli import cli, config_option, console, err_console, split_tables, tables_option
from bronze_sync.cli.render import simple_table
from bronze_sync.config import Config, load_config
from bronze_sync.errors import BronzeSyncError, ConfigError
from bronze_sync.history.backfill import backfill_history
from bronze_sync.history.columns import (
    BRONZE_VERSION,
    CHANGED_AT,
    CHANGED_COLUMNS,
    OPERATION,
    OPERATIONS,
)
from bronze_sync.history.feed import NoHistoryError, read_changes
from bronze_sync.history.timeline import ColumnChange, TimelineEntry, row_timeline

VALUE_WIDTH = 32  # longer values are shortened in the terminal (never in --json or --out)
SAMPLE_ROWS = 20  # rows `changes` shows without --out
OUT_FORMATS = (".parquet", ".csv")
LIST_SEPARATOR = ";"  # joins list values (ChangedColumns) in CSV files


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
    table = config.table(table_name)
    keys = list(table.primary_key)
    key = parse_key(key_values, keys, table.name)
    store = BronzeStore.from_config(config.bronze)
    try:
        entries = row_timeline(store, table.name, keys, key)
    except NoHistoryError as exc:
        raise _with_hint(exc) from None
    if as_json:
        click.echo(json.dumps([e.as_json() for e in entries], indent=2))
    else:
        console.print(timeline_table(table.name, key, entries))


def _with_hint(exc: NoHistoryError) -> NoHistoryError:
    """Return the error with what writes a history, unless it already says so."""
    text = str(exc)
    if "--backfill" in text:
        return exc
    return NoHistoryError(
        f"{text}: it is written by the next sync, or by `bronze-sync history --backfill` "
        "for a table synced before history existed"
    )


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
            Text(_utc(entry.changed_at)),
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


def _utc(when: dt.datetime | None) -> str:
    return "" if when is None else f"{when.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}"


def _run(run_id: str | None) -> str:
    if not run_id:
        return ""
    if len(run_id) == 36 and run_id[8] == "-":  # a Dagster run id: its prefix, as elsewhere
        return run_id[:8]
    return _shorten(run_id, 20)


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
    return _shorten(" ".join(text.split()) if "\n" in text else text, VALUE_WIDTH)


def _shorten(text: str, width: int) -> str:
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


@cli.command()
@config_option
@click.option("--table", "table_name", required=True, help="The bronze table.")
@click.option(
    "--since-version",
    type=int,
    required=True,
    help="Rows changed after this bronze version (-1: from the first version).",
)
@click.option(
    "--until-version", type=int, default=None, help="Up to this version (default: current)."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every row to FILE.parquet or FILE.csv (streamed) instead of a summary.",
)
def changes(
    config_path: str | None,
    table_name: str,
    since_version: int,
    until_version: int | None,
    out: Path | None,
) -> None:
    """Print or export the rows a bronze table changed after a version (the change feed).

    The last line, `next --since-version M`, names the version to continue from.
    """
    if out is not None:
        if out.suffix.lower() not in OUT_FORMATS:
            raise click.UsageError(f"--out must end in {' or '.join(OUT_FORMATS)}, not {out.name}")
        if not out.parent.is_dir():
            raise click.UsageError(f"--out: folder {out.parent} does not exist")
    config = load_config(config_path)
    table = config.table(table_name)
    store = BronzeStore.from_config(config.bronze)
    keys = list(table.primary_key)
    columns = None if out else [*keys, BRONZE_VERSION, OPERATION, CHANGED_AT, CHANGED_COLUMNS]
    try:
        reader = read_changes(store, table.name, since_version, until_version, columns=columns)
    except NoHistoryError as exc:
        raise _with_hint(exc) from None
    since, until = served_range(reader.schema, since_version)
    served = f"versions {since + 1}..{until}" if until > since else f"no version after {since}"
    if out is None:
        summarize(reader, table.name, served, keys)
    else:
        rows = export_changes(reader, out)
        console.print(f"{table.name}: wrote {rows:,} changed row(s) of {served} to {out}")
    click.echo(f"next --since-version {until}")


def served_range(schema: pa.Schema, since: int) -> tuple[int, int]:
    """Return the (since, until) versions a change reader serves."""
    metadata = schema.metadata or {}
    until = int(metadata[b"bronze_sync.until_version"])
    return int(metadata.get(b"bronze_sync.since_version", since)), until


def summarize(reader: pa.RecordBatchReader, table: str, served: str, keys: list[str]) -> None:
    """Print the rows per operation and the first rows (by version) of a change reader."""
    counts: Counter[str] = Counter()
    sample: pa.Table | None = None
    order = [(BRONZE_VERSION, "ascending"), *((k, "ascending") for k in keys)]
    for batch in reader:
        for item in pc.value_counts(batch.column(OPERATION)).to_pylist():
            counts[str(item["values"])] += int(item["counts"])
        part = pa.Table.from_batches([batch])
        both = part if sample is None else pa.concat_tables([sample, part])
        sample = both.sort_by(order).slice(0, SAMPLE_ROWS)
    total = sum(counts.values())
    console.print(f"{table}: {total:,} changed row(s) in {served}")
    if not total or sample is None:
        return
    known = [op for op in OPERATIONS if op in counts] + sorted(set(counts) - set(OPERATIONS))
    by_operation = [[op, counts[op]] for op in known]
    console.print(simple_table("Rows per operation", ["operation", "rows"], by_operation))
    shown = min(SAMPLE_ROWS, total)
    title = f"First {shown} of {total:,} row(s) by version (--out FILE writes them all)"
    columns = [*keys, "version", "operation", "changed at (UTC)", "changed columns"]
    lines = [
        [
            *(Text(show_value(row[k])) for k in keys),
            Text(str(row[BRONZE_VERSION])),
            Text(str(row[OPERATION])),
            Text(_utc(row[CHANGED_AT])),
            Text(_shorten(", ".join(row[CHANGED_COLUMNS] or []), 60)),
        ]
        for row in sample.to_pylist()
    ]
    grid = Table(title=title)
    for name in columns:
        grid.add_column(name, justify="right" if name == "version" else "left")
    for line in lines:
        grid.add_row(*line)
    console.print(grid)


def export_changes(reader: pa.RecordBatchReader, out: Path) -> int:
    """Stream a change reader to a Parquet or CSV file; return the rows written.

    The file appears only when complete (written as `<out>.partial`, then renamed).
    """
    partial = out.with_name(out.name + ".partial")
    as_csv = out.suffix.lower() == ".csv"
    schema = csv_schema(reader.schema) if as_csv else reader.schema
    rows = 0
    try:
        writer: Any = (
            pacsv.CSVWriter(partial, schema)
            if as_csv
            else pq.ParquetWriter(partial, schema, compression="snappy")
        )
        with writer:
            for batch in reader:
                writer.write_batch(csv_batch(batch, schema) if as_csv else batch)
                rows += batch.num_rows
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return rows


def csv_schema(schema: pa.Schema) -> pa.Schema:
    """Return a feed schema with its list columns as text (CSV holds no lists)."""
    fields = [pa.field(f.name, pa.string(), f.nullable) if _is_list(f.type) else f for f in schema]
    return pa.schema(fields)


def csv_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Return a feed batch with each list joined as text ("a;b"), in `schema`."""
    arrays = []
    for column in batch.columns:
        if _is_list(column.type):
            texts = pc.cast(column, pa.list_(pa.string()))
            column = pc.binary_join(texts, LIST_SEPARATOR)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _is_list(kind: pa.DataType) -> bool:
    return isinstance(kind, pa.ListType | pa.LargeListType)
