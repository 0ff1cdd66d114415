"""Map SQL column types, as the catalog reports them, to Arrow types."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import mssql, postgresql

from bronze_sync.errors import SourceSchemaError

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
MAX_DECIMAL_PRECISION = 38
# An unconstrained NUMERIC has no declared scale; this one keeps 20 integer digits.
UNCONSTRAINED_DECIMAL = pa.decimal128(38, 18)


def arrow_type_for(sql_type: sa.types.TypeEngine[object], column: str) -> pa.DataType:
    """Return the Arrow type bronze stores for a column of `sql_type`."""
    if isinstance(sql_type, mssql.MONEY):
        return pa.decimal128(19, 4)
    if isinstance(sql_type, mssql.SMALLMONEY):
        return pa.decimal128(10, 4)
    if isinstance(sql_type, postgresql.MONEY):
        return pa.decimal128(19, 2)
    if isinstance(sql_type, sa.Boolean):
        return pa.bool_()
    if isinstance(sql_type, mssql.TINYINT | sa.SmallInteger):
        return pa.int16()
    if isinstance(sql_type, sa.BigInteger):
        return pa.int64()
    if isinstance(sql_type, sa.Integer):
        return pa.int32() if type(sql_type) in (sa.Integer, sa.INTEGER, sa.INT) else pa.int64()
    if isinstance(sql_type, sa.Float):
        return pa.float32() if isinstance(sql_type, sa.REAL) else pa.float64()
    if isinstance(sql_type, sa.Numeric):
        return _decimal_type(sql_type, column)
    if isinstance(sql_type, sa.DateTime):
        return UTC_TIMESTAMP
    if isinstance(sql_type, sa.Date):
        return pa.date32()
    if isinstance(sql_type, sa.Time):
        return pa.time64("us")
    if isinstance(sql_type, sa.LargeBinary | sa.types._Binary):
        return pa.binary()
    if isinstance(sql_type, sa.String | sa.Uuid | sa.JSON | sa.Enum | sa.types.NullType):
        return pa.string()
    if isinstance(sql_type, postgresql.ARRAY | sa.ARRAY):
        return pa.string()
    # Other vendor types (interval, inet, xml, hierarchyid, ...) are kept as their text form.
    return pa.string()


def is_text_native(sql_type: sa.types.TypeEngine[object]) -> bool:
    """Return True when the database returns this type as text already."""
    return isinstance(sql_type, sa.String | sa.Enum | sa.types.NullType)


def _decimal_type(sql_type: sa.Numeric[Any], column: str) -> pa.DataType:
    precision, scale = sql_type.precision, sql_type.scale
    if precision is None:
        return UNCONSTRAINED_DECIMAL if scale is None else pa.decimal128(38, scale)
    if precision > MAX_DECIMAL_PRECISION:
        raise SourceSchemaError(
            f"column {column!r} is NUMERIC({precision},{scale}); Delta decimals hold at most "
            f"{MAX_DECIMAL_PRECISION} digits"
        )
    return pa.decimal128(precision, scale or 0)
