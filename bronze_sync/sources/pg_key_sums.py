"""PostgreSQL statements of the key checksums: a total, every key's hash, some buckets' keys.

A key's hash is the XOR over its columns of `hashtextextended(column::text COLLATE "C", i)`,
the function `rows.pghash` re-implements, so bronze can hash its own keys the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from bronze_sync.config.models import TableConfig
from bronze_sync.rows.pghash import HASH_COLUMN
from bronze_sync.sources.sql_query import SqlTypes, column_expressions, source_table


def key_hash(clause: sa.TableClause, table: TableConfig) -> sa.ColumnElement[Any]:
    """Return the SQL expression of a row's key hash."""
    hashed: sa.ColumnElement[Any] | None = None
    for seed, name in enumerate(table.primary_key):
        text = sa.cast(clause.c[name], sa.Text).collate("C")
        part = sa.func.hashtextextended(text, sa.literal(seed, sa.BigInteger), type_=sa.BigInteger)
        hashed = part if hashed is None else hashed.op("#", return_type=sa.BigInteger)(part)
    assert hashed is not None
    return hashed


def _bucket(hashed: sa.ColumnElement[Any], bits: int) -> sa.ColumnElement[Any]:
    return hashed.op("&", return_type=sa.BigInteger)(sa.literal((1 << bits) - 1, sa.BigInteger))


def select_total_checksum(table: TableConfig) -> sa.Select[Any]:
    """Return SELECT of the key count and the XOR of every key hash (one row)."""
    clause = source_table(table, table.primary_key)
    columns: list[sa.ColumnElement[Any]] = [
        sa.func.count(),
        sa.func.bit_xor(key_hash(clause, table), type_=sa.BigInteger),
    ]
    return sa.select(*columns)


def select_key_hashes(table: TableConfig) -> sa.Select[Any]:
    """Return SELECT of every row's key hash (one column, streamed)."""
    clause = source_table(table, table.primary_key)
    return sa.select(key_hash(clause, table).label(HASH_COLUMN)).select_from(clause)


def select_bucket_keys(
    table: TableConfig,
    schema: pa.Schema,
    types: SqlTypes,
    bits: int,
    buckets: Sequence[int],
    text_casts: bool,
) -> sa.Select[Any]:
    """Return SELECT of the key columns and key hash of the rows in `buckets`."""
    key_schema = pa.schema([schema.field(k) for k in table.primary_key])
    clause = source_table(table, key_schema.names)
    hashed = key_hash(clause, table)
    # Inlined: an integer array literal built here from ints, never from input (ADBC streams
    # a statement without parameters through COPY).
    listed = ",".join(str(int(b)) for b in buckets)
    wanted: sa.ColumnElement[Any] = sa.literal_column(f"'{{{listed}}}'::bigint[]")
    return sa.select(
        *column_expressions(clause, key_schema, types, text_casts), hashed.label(HASH_COLUMN)
    ).where(_bucket(hashed, bits) == sa.func.any(wanted))
