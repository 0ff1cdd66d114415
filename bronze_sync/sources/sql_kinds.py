"""SELECT statements of the table kinds (partitioned, scd2, static), as SQLAlchemy constructs.

They compile to valid PostgreSQL, SQLite and T-SQL (SQL Server); identifiers come from the
validated configuration and are quoted by the dialect, values are bound parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from bronze_sync.config.models import TableConfig
from bronze_sync.sources.sql_query import (
    SqlTypes,
    bind_value,
    column_expressions,
    source_table,
)

VALUES_CHUNK = 1000  # partition values per IN list (SQL Server allows ~2,100 parameters)


def select_partition_values(
    table: TableConfig, types: SqlTypes, above: Any = None
) -> sa.Select[Any]:
    """Return SELECT DISTINCT of the partition column (above `above` when given), ascending."""
    column = _partition_column(table)
    # Typed, so that drivers without native dates (SQLite) still return dates.
    clause = sa.table(
        table.source_table, sa.column(column, types.get(column)), schema=table.source_schema
    )
    col = clause.c[column]
    stmt = sa.select(col).distinct().where(col.is_not(None)).order_by(col)
    return stmt.where(col > above) if above is not None else stmt


def select_partition_rows(
    table: TableConfig,
    schema: pa.Schema,
    types: SqlTypes,
    values: Sequence[Any],
    text_casts: bool = False,
) -> sa.Select[Any]:
    """Return SELECT of the rows whose partition column is one of `values` (one chunk)."""
    column = _partition_column(table)
    clause = source_table(table, list(dict.fromkeys([*schema.names, column])))
    stmt = sa.select(*column_expressions(clause, schema, types, text_casts))
    return stmt.where(clause.c[column].in_(list(values)))


def select_scd2_window(
    table: TableConfig,
    schema: pa.Schema,
    types: SqlTypes,
    since: dt.datetime,
    text_casts: bool = False,
) -> sa.Select[Any]:
    """Return SELECT of the versions modified at or after `since`, plus every latest one."""
    assert table.modified_column and table.latest_column
    clause = source_table(table, [*schema.names, table.latest_column])
    stmt = sa.select(*column_expressions(clause, schema, types, text_casts))
    modified_type = types[table.modified_column]
    recent = clause.c[table.modified_column] >= sa.bindparam(
        "since", bind_value(since, modified_type), type_=modified_type
    )
    return stmt.where(sa.or_(recent, is_latest(clause, table.latest_column)))


def is_latest(clause: sa.TableClause, column: str) -> sa.ColumnElement[bool]:
    """Return `column` is true, for boolean, bit and integer flag columns alike."""
    # CAST(flag AS INTEGER) = 1 reads PostgreSQL boolean, SQL Server bit and SQLite 0/1.
    return sa.cast(clause.c[column], sa.Integer) == 1


def fingerprint_statement(
    table: TableConfig, schema: pa.Schema, dialect: str
) -> sa.Select[Any] | None:
    """Return SELECT (row count, content hash) computed by the database, or None.

    PostgreSQL hashes every row's text form and then the sorted row hashes (order
    independent, exact); SQL Server uses COUNT_BIG and CHECKSUM_AGG over BINARY_CHECKSUM of
    every column (binary: a change of letter case counts, unlike CHECKSUM under a
    case-insensitive collation; CHECKSUM_AGG can still miss changes that cancel out).
    Other dialects have no such function: the caller hashes a full read instead.
    """
    clause = source_table(table, schema.names)
    columns = [clause.c[name] for name in schema.names]
    if dialect == "postgresql":
        row_hash = sa.func.md5(sa.cast(sa.tuple_(*columns), sa.Text))
        ordered = sa.func.string_agg(row_hash, aggregate_order_by(sa.literal(""), row_hash))
        return sa.select(sa.func.count(), sa.func.md5(ordered))
    if dialect == "mssql":
        # COUNT_BIG(*): a constant, not configuration.
        every_row: sa.ColumnClause[Any] = sa.literal_column("*")
        return sa.select(
            sa.func.count_big(every_row), sa.func.checksum_agg(sa.func.binary_checksum(*columns))
        )
    return None


def _partition_column(table: TableConfig) -> str:
    if not table.partition_column:
        raise ValueError(f"table {table.name} has no partition_column")
    return table.partition_column
