"""The emulator answers created-date range filters from an index, as row by row."""

from __future__ import annotations

import datetime as dt

import hypothesis.strategies as st
from hypothesis import given, settings

from bronze_sync.testing.dataverse.demo import account_entity
from bronze_sync.testing.dataverse.model import Store
from bronze_sync.testing.dataverse.odata import parse_filter, span_of
from bronze_sync.testing.dataverse.queries import _matching_cached
from bronze_sync_tests.dataverse import account_row

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
MOMENTS = st.integers(0, 40).map(lambda s: START + dt.timedelta(seconds=s))
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def _filters() -> st.SearchStrategy[str]:
    low = MOMENTS.map(lambda t: f"createdon ge {t.strftime(STAMP)}")
    high = MOMENTS.map(lambda t: f"createdon lt {t.strftime(STAMP)}")
    ranged = st.one_of(
        low, high, st.tuples(low, high).map(" and ".join), st.just("createdon ne null")
    )
    with_nulls = ranged.map(lambda f: f"(createdon eq null or ({f}))")
    return st.one_of(ranged, with_nulls, st.just("createdon eq null"))


def _store(created: list[dt.datetime | None]) -> Store:
    store = Store()
    store.add(account_entity())
    rows = [account_row(i, created) for i, created in enumerate(created)]
    store.upsert("account", rows, START)
    # upsert stamps a missing createdon with `now`: put the nulls back as the rows hold them
    for row, value in zip(rows, created, strict=True):
        store.entities["account"].rows[row["accountid"]]["createdon"] = value
    return store


@settings(max_examples=60, deadline=None)
@given(created=st.lists(st.one_of(st.none(), MOMENTS), max_size=30), where=_filters())
def test_a_created_range_keeps_the_rows_a_row_by_row_filter_keeps(created, where):
    store = _store(created)
    entity = store.entities["account"]
    predicate = parse_filter(where, lambda n: entity.attribute(n) is not None)
    assert span_of(predicate) is not None  # answered from the index
    rows, ids = _matching_cached(store, entity, {"$filter": where})
    everything, every_id = _matching_cached(store, entity, {})
    expected = [i for i, row in zip(every_id, everything, strict=True) if predicate(row)]
    assert ids == expected and [r["accountid"].lower() for r in rows] == expected


def test_a_filter_on_other_columns_is_not_taken_for_a_range():
    entity = account_entity()
    known = lambda n: entity.attribute(n) is not None  # noqa: E731
    for where in (
        "name ne null and createdon ge 2024-01-01T00:00:00Z",
        "createdon ge 2024-01-01T00:00:00Z or createdon lt 2023-01-01T00:00:00Z",
        "createdon gt 2024-01-01T00:00:00Z",
        "modifiedon eq null or createdon lt 2024-01-01T00:00:00Z",
    ):
        assert span_of(parse_filter(where, known)) is None, where


def test_a_null_filter_on_a_text_column_is_answered_row_by_row():
    store = _store([START, None, START])
    entity = store.entities["account"]
    entity.rows[next(iter(entity.rows))]["name"] = None
    for where in ("name eq null", "name ne null"):
        predicate = parse_filter(where, lambda n: entity.attribute(n) is not None)
        assert span_of(predicate) is not None  # offered to the index, which declines text
        _, ids = _matching_cached(store, entity, {"$filter": where})
        everything, every_id = _matching_cached(store, entity, {})
        assert ids == [i for i, r in zip(every_id, everything, strict=True) if predicate(r)]
        assert ids  # both filters keep some rows here
