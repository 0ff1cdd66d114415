"""Build the SELECT statements of a SQL source with SQLAlchemy constructs (never text)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bronze_sync.config.models import TableConfig
from bronze_sync.sources.sql_types import is_text_native

SqlTypes = Mapping[str, sa.types.TypeEngine[Any]]
# SQL Server has no row-value IN; composite keys there use OR of ANDs, in smaller chunks.
KEY_CHUNK = 1000
COMPOSITE_KEY_CHUNK = 200


def source_table(table: TableConfig, columns: Sequence[str]) -> sa.TableClause:
    """Return a lightweight table clause naming `columns` of the configured source table."""
    return sa.table(
        table.source_table, *(sa.column(c) for c in columns), schema=table.source_schema
    )


def column_expressions(
    clause: sa.TableClause, schema: pa.Schema, types: SqlTypes, text_casts: bool
) -> list[sa.ColumnElement[Any]]:
    """Return one select expression per field; with `text_casts`, text-stored types become TEXT."""
    exprs: list[sa.ColumnElement[Any]] = []
    for field in schema:
        col: sa.ColumnElement[Any] = clause.c[field.name]
        sql_type = types.get(field.name)
        if isinstance(sql_type, postgresql.MONEY):
            # Drivers return MONEY as locale-formatted text ("$12.34"); NUMERIC is exact.
            col = sa.cast(col, sa.Numeric(19, 2)).label(field.name)
        elif (
            text_casts
            and sql_type is not None
            and pa.types.is_string(field.type)
            and not is_text_native(sql_type)
        ):
            col = sa.cast(col, sa.Text).label(field.name)
        exprs.append(col)
    return exprs


def select_rows(
    table: TableConfig,
    schema: pa.Schema,
    types: SqlTypes,
    since: dt.datetime | None,
    text_casts: bool = False,
) -> sa.Select[Any]:
    """Return SELECT of every column, optionally only rows modified at or after `since`."""
    clause = source_table(table, schema.names)
    stmt = sa.select(*column_expressions(clause, schema, types, text_casts))
    if since is not None and table.modified_column:
        mod_type = types[table.modified_column]
        stmt = stmt.where(
            clause.c[table.modified_column]
            >= sa.bindparam("since", bind_value(since, mod_type), type_=mod_type)
        )
    return stmt


def select_keys(
    table: TableConfig, schema: pa.Schema, types: SqlTypes, text_casts: bool = False
) -> sa.Select[Any]:
    """Return SELECT of the primary-key columns of every row."""
    key_schema = pa.schema([schema.field(k) for k in table.primary_key])
    clause = source_table(table, key_schema.names)
    return sa.select(*column_expressions(clause, key_schema, types, text_casts))


def select_rows_by_keys(
    table: TableConfig,
    schema: pa.Schema,
    types: SqlTypes,
    keys: Sequence[tuple[Any, ...]],
    dialect: str,
) -> sa.Select[Any]:
    """Return SELECT of the rows whose key is one of `keys` (one chunk)."""
    clause = source_table(table, schema.names)
    stmt = sa.select(*column_expressions(clause, schema, types, text_casts=False))
    key_cols = [clause.c[k] for k in table.primary_key]
    if len(key_cols) == 1:
        return stmt.where(key_cols[0].in_([k[0] for k in keys]))
    if dialect == "mssql":
        return stmt.where(
            sa.or_(*(sa.and_(*(c == v for c, v in zip(key_cols, k, strict=True))) for k in keys))
        )
    return stmt.where(sa.tuple_(*key_cols).in_([tuple(k) for k in keys]))


def key_chunk_size(table: TableConfig) -> int:
    """Return how many keys go into one by-key SELECT."""
    return KEY_CHUNK if len(table.primary_key) == 1 else COMPOSITE_KEY_CHUNK


def bind_value(value: dt.datetime, sql_type: sa.types.TypeEngine[Any]) -> dt.datetime:
    """Return `value` as the column type expects it (naive UTC for naive timestamp columns)."""
    if isinstance(sql_type, sa.DateTime) and not sql_type.timezone:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
