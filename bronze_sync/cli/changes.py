"""`bronze-sync changes --table T --since-version N`: the change feed for downstream jobs."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import click
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.table import Table
from rich.text import Text

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli import cli, config_option, console
from bronze_sync.cli.history import configured_table, shorten, show_value, utc_text, with_hint
from bronze_sync.cli.render import simple_table
from bronze_sync.config import load_config
from bronze_sync.history.columns import (
    BRONZE_VERSION,
    CHANGED_AT,
    CHANGED_COLUMNS,
    OPERATION,
    OPERATIONS,
)
from bronze_sync.history.feed import NoHistoryError, read_changes

SAMPLE_ROWS = 20  # rows `changes` shows without --out
OUT_FORMATS = (".parquet", ".csv")
LIST_SEPARATOR = ";"  # joins list values (ChangedColumns) in CSV files


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
    table = configured_table(config, table_name)
    store = BronzeStore.from_config(config.bronze)
    keys = list(table.primary_key)
    columns = None if out else [*keys, BRONZE_VERSION, OPERATION, CHANGED_AT, CHANGED_COLUMNS]
    try:
        reader = read_changes(store, table.name, since_version, until_version, columns=columns)
    except NoHistoryError as exc:
        raise with_hint(exc) from None
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
            Text(utc_text(row[CHANGED_AT])),
            Text(shorten(", ".join(row[CHANGED_COLUMNS] or []), 60)),
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
