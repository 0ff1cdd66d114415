"""Values of aligned Arrow rows: change comparison, UTC timestamps, polars frames.

Shared by bronze (rewriting files), diff (planning a sync) and the checks and reports above
them, so it depends on nothing of bronze_sync.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")


def rows_differ(left: pa.Table, right: pa.Table, columns: list[str]) -> pa.BooleanArray:
    """Return per row whether any of `columns` differs (nulls equal nulls, NaN equals NaN).

    A column missing from `right` (new in the source) counts as null there.
    """
    differs = pa.repeat(False, left.num_rows)
    for name in columns:
        a = left.column(name)
        b = right.column(name) if name in right.column_names else pa.nulls(left.num_rows, a.type)
        if b.type != a.type:
            b = pc.cast(b, a.type)
        same = pc.or_(pc.fill_null(pc.equal(a, b), False), pc.and_(pc.is_null(a), pc.is_null(b)))
        if pa.types.is_floating(a.type):
            same = pc.or_(same, pc.fill_null(pc.and_(pc.is_nan(a), pc.is_nan(b)), False))
        differs = pc.or_(differs, pc.invert(same))
    return as_array(differs)


def as_timestamps(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Return dates or timestamps as UTC timestamps (dates at midnight UTC)."""
    if pa.types.is_date(values.type):
        return pc.cast(pc.cast(values, pa.timestamp("us")), UTC_TIMESTAMP)
    if values.type.tz is None:
        return pc.cast(values, UTC_TIMESTAMP)
    return pc.cast(values, UTC_TIMESTAMP)


def as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Return `values` as one contiguous array (chunks combined)."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def frame(table: pa.Table, rechunk: bool = True) -> pl.DataFrame:
    """Return an Arrow table as a polars DataFrame."""
    converted = pl.from_arrow(table, rechunk=rechunk)
    # from_arrow is typed for arrays too (a Series); a table always gives a DataFrame.
    assert isinstance(converted, pl.DataFrame)
    return converted
