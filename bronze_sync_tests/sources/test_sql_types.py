"""Catalog types map to the Arrow types bronze stores, for every supported dialect."""

from __future__ import annotations

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql, postgresql, sqlite

from bronze_sync.errors import SourceSchemaError
from bronze_sync.sources.sql_types import UTC_TIMESTAMP, arrow_type_for

CASES = [
    # SQL Server (reflected by the mssql dialect; same code path as the other databases)
    (mssql.MONEY(), pa.decimal128(19, 4)),
    (mssql.SMALLMONEY(), pa.decimal128(10, 4)),
    (mssql.DATETIME2(), UTC_TIMESTAMP),
    (mssql.DATETIMEOFFSET(), UTC_TIMESTAMP),
    (mssql.UNIQUEIDENTIFIER(), pa.string()),
    (mssql.BIT(), pa.bool_()),
    (mssql.TINYINT(), pa.int16()),
    (mssql.NVARCHAR(100), pa.string()),
    (mssql.DECIMAL(38, 18), pa.decimal128(38, 18)),
    (mssql.SMALLDATETIME(), UTC_TIMESTAMP),
    # PostgreSQL
    (postgresql.MONEY(), pa.decimal128(19, 2)),
    (postgresql.UUID(), pa.string()),
    (postgresql.JSONB(), pa.string()),
    (postgresql.TIMESTAMP(timezone=True), UTC_TIMESTAMP),
    (postgresql.NUMERIC(), pa.decimal128(38, 18)),
    (postgresql.DOUBLE_PRECISION(), pa.float64()),
    (postgresql.INTERVAL(), pa.string()),
    # Generic / SQLite
    (sa.Integer(), pa.int32()),
    (sa.BigInteger(), pa.int64()),
    (sa.SmallInteger(), pa.int16()),
    (sa.Numeric(19, 4), pa.decimal128(19, 4)),
    (sa.REAL(), pa.float32()),
    (sa.Date(), pa.date32()),
    (sa.Time(), pa.time64("us")),
    (sa.LargeBinary(), pa.binary()),
    (sqlite.DATETIME(), UTC_TIMESTAMP),
    (sa.types.NullType(), pa.string()),
]


@pytest.mark.parametrize(("sql_type", "expected"), CASES, ids=lambda v: repr(v))
def test_catalog_type_maps_to_arrow(sql_type, expected):
    assert arrow_type_for(sql_type, "col") == expected


def test_decimal_wider_than_delta_is_refused():
    with pytest.raises(
        SourceSchemaError, match=r"'big' is NUMERIC\(50,2\); Delta decimals hold at most 38"
    ):
        arrow_type_for(sa.Numeric(50, 2), "big")
