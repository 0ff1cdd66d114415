"""Turn rows of Python values (as DB-API drivers return them) into typed Arrow batches."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from bronze_sync.errors import SourceDataError

Converter = Callable[[Any], Any]


def rows_to_batch(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.RecordBatch:
    """Build a record batch in `schema` from row tuples."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = [_to_array(values, field) for values, field in zip(columns, schema, strict=True)]
    return pa.record_batch(arrays, schema=schema)


def _to_array(values: Sequence[Any], field: pa.Field) -> pa.Array:
    try:
        return pa.array(values, type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        pass
    convert = converter_for(field.type)
    converted = []
    for value in values:
        try:
            converted.append(None if value is None else convert(value))
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise SourceDataError(
                f"column {field.name!r}: value {str(value)[:60]!r} cannot be stored as "
                f"{field.type}: {exc}"
            ) from None
    try:
        return pa.array(converted, type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise SourceDataError(f"column {field.name!r}: {exc}") from None


def converter_for(arrow_type: pa.DataType) -> Converter:
    """Return a function turning one driver value into what Arrow expects for the type."""
    if pa.types.is_decimal(arrow_type):
        return lambda v: _to_decimal(v, arrow_type.scale)
    if pa.types.is_timestamp(arrow_type):
        return _to_utc_datetime
    if pa.types.is_date(arrow_type):
        return _to_date
    if pa.types.is_boolean(arrow_type):
        return _to_bool
    if pa.types.is_integer(arrow_type):
        return _to_int
    if pa.types.is_floating(arrow_type):
        return float
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return _to_text
    if pa.types.is_time(arrow_type):
        return _to_time
    if pa.types.is_binary(arrow_type):
        return lambda v: bytes(v) if not isinstance(v, str) else v.encode()
    return lambda v: v


def _to_decimal(value: Any, scale: int) -> decimal.Decimal:
    if isinstance(value, float):
        # repr() is the shortest text that round-trips, so 0.1 stays 0.1 (SQLite stores REAL).
        value = decimal.Decimal(repr(value))
    elif not isinstance(value, decimal.Decimal):
        value = decimal.Decimal(str(value).strip())
    if not value.is_finite():
        raise ValueError("not a finite number")
    quantum = decimal.Decimal(1).scaleb(-scale)
    exact = value.quantize(quantum, context=decimal.Context(prec=80))
    if exact != value:
        raise ValueError(f"has more than {scale} decimal places")
    return exact


def _to_utc_datetime(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.strip())
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a timestamp, got {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip()[:10])
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"expected a date, got {type(value).__name__}")


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"1", "true", "t", "yes", "y"}:
            return True
        if text in {"0", "false", "f", "no", "n"}:
            return False
        raise ValueError("not a boolean")
    return bool(value)


def _to_int(value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("not a whole number")
    if isinstance(value, decimal.Decimal) and value != value.to_integral_value():
        raise ValueError("not a whole number")
    return int(value)


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, sort_keys=True)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _to_time(value: Any) -> dt.time:
    if isinstance(value, str):
        return dt.time.fromisoformat(value.strip())
    if isinstance(value, dt.timedelta):
        return (dt.datetime.min + value).time()
    return value
