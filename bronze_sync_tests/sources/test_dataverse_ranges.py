"""Full reads and key scans split into createdon ranges read in parallel (emulator over HTTPS)."""

from __future__ import annotations

import datetime as dt
import itertools
import urllib.parse

import hypothesis.strategies as st
import pyarrow as pa
from hypothesis import given

from bronze_sync.config.models import TableConfig
from bronze_sync.sources.dataverse_ranges import created_ranges, range_filters
from bronze_sync_tests.dataverse import account_row, key
from bronze_sync_tests.sources.test_dataverse_client import source_for

TABLE = TableConfig(
    name="account", source="account", primary_key="accountid", created_column="createdon"
)
START = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
MOMENTS = st.integers(0, 10 * 365 * 86400).map(lambda s: START + dt.timedelta(seconds=s))


@given(
    oldest=MOMENTS,
    span=st.integers(0, 10**8),
    micros=st.integers(0, 999_999),
    count=st.integers(1, 16),
)
def test_ranges_are_contiguous_and_cover_oldest_to_newest(oldest, span, micros, count):
    oldest = oldest + dt.timedelta(microseconds=micros)
    newest = oldest + dt.timedelta(seconds=span)
    ranges = created_ranges(oldest, newest, count)
    assert 1 <= len(ranges) <= count
    assert ranges[0][0] <= oldest and ranges[-1][1] > newest
    assert all(low < high for low, high in ranges)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert all(edge.microsecond == 0 for pair in ranges for edge in pair)


def test_the_first_range_also_takes_the_rows_without_a_created_value():
    ranges = created_ranges(START, START + dt.timedelta(days=2), 2)
    assert range_filters("createdon", ranges) == [
        "(createdon eq null or "
        "(createdon ge 2015-01-01T00:00:00Z and createdon lt 2015-01-02T00:00:00Z))",
        "createdon ge 2015-01-02T00:00:00Z and createdon lt 2015-01-03T00:00:01Z",
    ]


def _load(emulator) -> set[str]:
    rows = [account_row(i, START + dt.timedelta(days=11 * i)) for i in range(240)]
    rows += [account_row(i, createdon=None) for i in range(240, 243)]
    emulator.insert("account", rows)
    return {key(i) for i in range(243)}


def _filters(emulator) -> set[str]:
    queries = [urllib.parse.urlsplit(r.path).query for r in emulator.api_requests("accounts?")]
    return {
        v
        for q in queries
        for k, v in urllib.parse.parse_qsl(q)
        if k == "$filter" and "$top" not in q
    }


def test_a_full_read_in_parallel_ranges_returns_every_row_once(emulator):
    expected = _load(emulator)
    emulator.latency = 0.02
    source = source_for(
        emulator, page_size=10, change_tracking="off", parallel_reads=4, max_concurrent_requests=4
    )
    batches = list(source.read_rows(TABLE, source.describe(TABLE), None))
    ids = pa.concat_arrays([b.column("accountid") for b in batches]).to_pylist()
    assert len(ids) == len(expected) and set(ids) == expected
    assert len(_filters(emulator)) == 4  # four createdon ranges, the first with the nulls
    assert 1 < emulator.max_in_flight <= 4


def test_a_key_scan_in_parallel_ranges_returns_every_key(emulator):
    expected = _load(emulator)
    source = source_for(emulator, page_size=25, change_tracking="off", parallel_reads=3)
    schema = source.describe(TABLE)
    keys = [k for b in source.read_keys(TABLE, schema) for k in b.column(0).to_pylist()]
    assert sorted(keys) == sorted(expected)
    assert any("createdon eq null" in f for f in _filters(emulator))


def test_one_stream_without_created_column_or_parallel_reads(emulator):
    expected = _load(emulator)
    for table, parallel in ((TABLE.model_copy(update={"created_column": None}), 4), (TABLE, 1)):
        source = source_for(emulator, page_size=50, change_tracking="off", parallel_reads=parallel)
        batches = list(source.read_rows(table, source.describe(table), None))
        assert {i for b in batches for i in b.column("accountid").to_pylist()} == expected
    assert _filters(emulator) == set()
