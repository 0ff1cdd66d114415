"""The purge-aware rule (ARCHITECTURE §4)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from bronze_sync.diff.classify import purge_mask

PURGE = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
TS = pa.timestamp("us", tz="UTC")


def test_created_before_purge_date_is_purge():
    created = pa.array(
        [dt.datetime(2020, 12, 31, 23, 59), PURGE, dt.datetime(2022, 1, 1), None], TS
    )
    assert purge_mask(4, created, PURGE).to_pylist() == [True, False, False, False]


def test_no_recorded_purge_means_delete():
    created = pa.array([dt.datetime(2000, 1, 1)], TS)
    assert purge_mask(1, created, None).to_pylist() == [False]


def test_date_typed_created_column():
    created = pa.array([dt.date(2020, 12, 31), dt.date(2021, 1, 1)], pa.date32())
    assert purge_mask(2, created, PURGE).to_pylist() == [True, False]


def test_retained_rows_are_purges_regardless_of_date():
    created = pa.array([dt.datetime(2025, 1, 1)], TS)
    assert purge_mask(1, created, None, retained=pa.array([True])).to_pylist() == [True]


def test_without_created_column_all_deletes():
    assert purge_mask(3, None, PURGE).to_pylist() == [False, False, False]
