"""Partitioned tables (kind partitioned): which partition values a sync loads or reloads.

Each value of `partition_column` (a COBID like 20260131, a date, a string) is a daily slice.
A daily sync loads the source's values above the highest one bronze holds (bronze itself is
the state: roll a value's rows back and the next sync loads it again); the first sync loads
only the newest `initial_partitions`. A reload of chosen values replaces exactly their rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from bronze_sync.bronze.data_files import held_values, partition_text
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import ConfigError, SourceSchemaError
from bronze_sync.sources.base import Source


def check_partition_field(table: TableConfig, source_schema: pa.Schema) -> pa.Field:
    """Return the source's partition column, or raise when it is missing or of a bad type."""
    column = table.partition_column
    if not column or column not in source_schema.names:
        raise SourceSchemaError(
            f"partition_column {column!r} is not a column of {table.source}", table=table.name
        )
    field = source_schema.field(column)
    kind = field.type
    if not (pa.types.is_integer(kind) or pa.types.is_date(kind) or pa.types.is_string(kind)):
        raise SourceSchemaError(
            f"partition_column {column!r} is {kind}; it must be an integer (e.g. COBID "
            "YYYYMMDD), a date or a string",
            table=table.name,
        )
    return field


def value_key(value: Any) -> str:
    """Return the text that names a partition value (a Dagster partition key, a CLI value)."""
    return partition_text(value)


def parse_value(text: str, field: pa.Field, table: str) -> Any:
    """Return the typed partition value a key or CLI value names, or raise ConfigError."""
    try:
        if pa.types.is_integer(field.type):
            return int(text)
        if pa.types.is_date(field.type):
            return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"partition value {text!r} is not a valid {field.type} for {field.name}", table=table
        ) from None
    return text


def new_values(source: Source, table: TableConfig, delta: DeltaTable | None) -> list[Any]:
    """Return the values a daily sync loads: above bronze's highest (first sync: newest N)."""
    held = held_values(delta, table.partition_column or "") if delta is not None else []
    if not held:
        return source.partition_values(table)[-table.initial_partitions :]
    return source.partition_values(table, above=held[-1])


def values_in_range(
    source: Source,
    table: TableConfig,
    delta: DeltaTable | None,
    field: pa.Field,
    low: str,
    high: str,
) -> list[Any]:
    """Return the values FROM..TO (inclusive) the source or bronze holds; ConfigError if none."""
    start, end = parse_value(low, field, table.name), parse_value(high, field, table.name)
    if start > end:
        raise ConfigError(
            f"partition range {low}:{high}: FROM is after TO (nothing was written)",
            table=table.name,
        )
    held = held_values(delta, field.name) if delta is not None else []
    chosen = sorted({v for v in [*source.partition_values(table), *held] if start <= v <= end})
    if not chosen:
        raise ConfigError(
            f"partition range {low}:{high}: neither the source nor bronze holds a value of "
            f"{field.name} in it (nothing was written)",
            table=table.name,
        )
    return chosen


def describe_values(values: Sequence[Any]) -> str:
    """Return `20260101..20260131 (21 values)` for logs and audit notes."""
    if not values:
        return "no values"
    if len(values) == 1:
        return value_key(values[0])
    return f"{value_key(values[0])}..{value_key(values[-1])} ({len(values)} values)"
