"""The table kinds' SELECT statements compiled for SQL Server (no server is available here).

They must be valid-looking T-SQL: bracket quoting of mixed-case names, `?` parameters
(pyodbc), IN lists within SQL Server's 2,100 parameters, COUNT_BIG and CHECKSUM_AGG(BINARY_CHECKSUM) for the
static fingerprint, and nothing PostgreSQL-only. test_sql_kinds.py runs them for real.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc

from bronze_sync.sources.sql_kinds import (
    VALUES_CHUNK,
    fingerprint_statement,
    select_partition_rows,
    select_partition_values,
    select_scd2_window,
)

TABLES = [
    {
        "name": "positions",
        "source": "dbo.Positions",
        "kind": "partitioned",
        "primary_key": ["PositionId", "COBID"],
        "partition_column": "COBID",
    },
    {
        "name": "customer_history",
        "source": "dbo.CustomerHistory",
        "kind": "scd2",
        "primary_key": ["CustomerId", "LastModified"],
        "business_key": "CustomerId",
        "modified_column": "LastModified",
        "latest_column": "IsLatest",
    },
    {"name": "currency", "source": "ref.Currency", "kind": "static", "primary_key": "CurrencyCode"},
]

TSQL = mssql_pyodbc.dialect(paramstyle="qmark")  # what an mssql+pyodbc engine uses
MSSQL_TYPES: dict[str, dict[str, Any]] = {
    "Positions": {"PositionId": sa.Integer(), "COBID": sa.Integer(), "Qty": sa.Numeric(18, 4)},
    "CustomerHistory": {
        "CustomerId": sa.Integer(),
        "LastModified": mssql.DATETIME2(),
        "IsLatest": mssql.BIT(),
        "Name": sa.NVARCHAR(100),
    },
}
POSTGRESQL_ONLY = [
    r'"',  # T-SQL quotes with brackets
    r"::",
    r"\bmd5\b",
    r"\bstring_agg\b",
    r"\bLIMIT\b",
    r"\bILIKE\b",
    r"\bRETURNING\b",
    r"\bDISTINCT ON\b",
    r"\b(true|false)\b",
    r"%\(|\$\d",  # pyformat / numeric parameters
]


def tsql(stmt: sa.Select[Any]) -> tuple[str, list[Any]]:
    """Return `stmt` compiled for SQL Server and its positional parameters."""
    compiled = stmt.compile(dialect=TSQL, compile_kwargs={"render_postcompile": True})
    params = [compiled.params[name] for name in compiled.positiontup or []]
    return str(compiled), params


def assert_tsql(sql: str) -> None:
    """Assert a statement carries no PostgreSQL-only syntax and quotes with brackets."""
    for pattern in POSTGRESQL_ONLY:
        assert not re.search(pattern, sql, re.IGNORECASE), (pattern, sql)
    assert sql.count("[") == sql.count("]") > 0


def mssql_table(make_config, name: str) -> Any:
    """Return one of the kinds' table configs (sources in schemas dbo and ref)."""
    return make_config(TABLES).table(name)


def mssql_schema(table: str) -> pa.Schema:
    """Return the Arrow schema the source would describe for a SQL Server table."""
    arrow = {
        sa.Integer: pa.int32(),
        sa.Numeric: pa.decimal128(18, 4),
        mssql.DATETIME2: pa.timestamp("us", tz="UTC"),
        mssql.BIT: pa.bool_(),
        sa.NVARCHAR: pa.string(),
    }
    return pa.schema([(n, arrow[type(t)]) for n, t in MSSQL_TYPES[table].items()])


def test_partition_statements_compile_to_tsql(make_config):
    table = mssql_table(make_config, "positions")
    types = MSSQL_TYPES["Positions"]
    column = "dbo.[Positions].[COBID]"

    values_sql, values_params = tsql(select_partition_values(table, types, above=20260131))
    rows_sql, rows_params = tsql(
        select_partition_rows(table, mssql_schema("Positions"), types, [20260101, 20260102])
    )
    chunk_sql, chunk_params = tsql(
        select_partition_rows(table, mssql_schema("Positions"), types, range(VALUES_CHUNK))
    )

    assert (
        values_sql.split()
        == (
            f"SELECT DISTINCT {column} FROM dbo.[Positions] "
            f"WHERE {column} IS NOT NULL AND {column} > ? ORDER BY {column}"
        ).split()
    )
    assert values_params == [20260131]
    assert (
        rows_sql.split()
        == (
            f"SELECT dbo.[Positions].[PositionId], {column}, dbo.[Positions].[Qty] "
            f"FROM dbo.[Positions] WHERE {column} IN (?, ?)"
        ).split()
    )
    assert rows_params == [20260101, 20260102]
    # One chunk of values stays under SQL Server's 2,100 parameters per statement.
    assert len(chunk_params) == VALUES_CHUNK < 2100 and chunk_sql.count("?") == VALUES_CHUNK
    for sql in (values_sql, rows_sql, chunk_sql):
        assert_tsql(sql)


def test_scd2_window_compiles_to_tsql_with_a_naive_utc_bound(make_config):
    table = mssql_table(make_config, "customer_history")
    since = dt.datetime(2026, 1, 31, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))

    sql, params = tsql(
        select_scd2_window(
            table, mssql_schema("CustomerHistory"), MSSQL_TYPES["CustomerHistory"], since
        )
    )

    history = "dbo.[CustomerHistory]"
    assert f"FROM {history}" in sql
    assert re.search(
        rf"WHERE {re.escape(history)}\.\[LastModified\] >= \? "
        rf"OR CAST\({re.escape(history)}\.\[IsLatest\] AS INTEGER\) = \?$",
        " ".join(sql.split()),
    ), sql
    # DATETIME2 has no time zone: the bound is the same instant as naive UTC.
    assert params == [dt.datetime(2026, 1, 30, 23, 30), 1]
    assert_tsql(sql)


def test_fingerprint_compiles_to_count_big_and_checksum_agg(make_config):
    table = mssql_table(make_config, "currency")
    schema = pa.schema([("CurrencyCode", pa.string()), ("Name", pa.string())])
    stmt = fingerprint_statement(table, schema, "mssql")
    assert stmt is not None

    sql, params = tsql(stmt)

    flat = " ".join(sql.split())
    assert re.search(r"\bCOUNT_BIG\(\*\)", flat, re.IGNORECASE), sql
    checksum = r"CHECKSUM_AGG\(BINARY_CHECKSUM\(ref\.\[Currency\]\.\[CurrencyCode\], ref\.\[Currency\]\.\[Name\]\)\)"
    assert re.search(checksum, flat, re.IGNORECASE), sql
    assert flat.endswith("FROM ref.[Currency]") and params == []
    assert_tsql(sql)
