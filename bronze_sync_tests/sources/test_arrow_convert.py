"""Driver values (psycopg, pyodbc, sqlite3) become exact, typed Arrow values."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pyarrow as pa
import pytest

from bronze_sync.errors import SourceDataError
from bronze_sync.sources.arrow_convert import rows_to_batch

UTC_TS = pa.timestamp("us", tz="UTC")


def one(value, arrow_type):
    return rows_to_batch([(value,)], pa.schema([("c", arrow_type)])).column(0)[0].as_py()


def test_pyodbc_datetimeoffset_becomes_utc():
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert one(dt.datetime(2024, 1, 1, 12, tzinfo=plus_two), UTC_TS) == dt.datetime(
        2024, 1, 1, 10, tzinfo=dt.UTC
    )


def test_naive_datetime2_is_taken_as_utc():
    assert one(dt.datetime(2024, 1, 1, 12), UTC_TS) == dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)


def test_sqlite_timestamp_text_is_parsed():
    assert one("2024-01-01 12:00:00.000001", UTC_TS) == dt.datetime(
        2024, 1, 1, 12, 0, 0, 1, tzinfo=dt.UTC
    )


def test_uniqueidentifier_and_uuid_become_text():
    ident = uuid.UUID("6f1d3c1e-7b0a-4a53-9a5e-0b2f1c9d4e21")
    assert one(ident, pa.string()) == str(ident)
    assert (
        one("6F1D3C1E-7B0A-4A53-9A5E-0B2F1C9D4E21", pa.string())
        == "6F1D3C1E-7B0A-4A53-9A5E-0B2F1C9D4E21"
    )


def test_money_decimal_is_exact():
    assert one(Decimal("922337203685477.5807"), pa.decimal128(19, 4)) == Decimal(
        "922337203685477.5807"
    )


def test_sqlite_real_decimal_uses_shortest_repr():
    assert one(0.1, pa.decimal128(38, 18)) == Decimal("0.1")


def test_bit_as_int_becomes_bool():
    assert one(1, pa.bool_()) is True and one(0, pa.bool_()) is False


def test_json_object_becomes_sorted_text():
    assert one({"b": 1, "a": [1, 2]}, pa.string()) == '{"a": [1, 2], "b": 1}'


def test_nulls_stay_null():
    assert one(None, pa.decimal128(19, 4)) is None


def test_value_that_would_lose_digits_names_the_column():
    schema = pa.schema([("amount", pa.decimal128(19, 2))])
    with pytest.raises(
        SourceDataError, match=r"column 'amount': value '1.234'.*more than 2 decimal places"
    ):
        rows_to_batch([(Decimal("1.234"),)], schema)


def test_integer_overflow_names_the_column():
    with pytest.raises(SourceDataError, match="column 'n'"):
        rows_to_batch([(2**40,)], pa.schema([("n", pa.int32())]))
