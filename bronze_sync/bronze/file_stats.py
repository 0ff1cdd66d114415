"""Delta file statistics for the files bronze_sync writes itself.

Readers (delta-rs, Spark, Fabric) skip files using min/max statistics, so a wrong bound would
silently drop rows from query results. We only write bounds we can state exactly or
conservatively: integers and dates exactly, timestamps rounded outward to milliseconds
(Delta's precision), and none for strings, decimals and floats.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


def file_stats(rows: pa.Table) -> str:
    """Return the JSON `stats` of a data file holding `rows`."""
    stats = FileStats()
    stats.add(rows)
    return stats.json()


class FileStats:
    """Statistics of a data file written a row group at a time."""

    def __init__(self) -> None:
        self.rows = 0
        self.minimum: dict[str, Any] = {}
        self.maximum: dict[str, Any] = {}
        self.nulls: dict[str, int] = {}

    def add(self, rows: pa.Table) -> None:
        """Fold the statistics of `rows` (same schema every time) into the file's."""
        self.rows += rows.num_rows
        for field in rows.schema:
            column = rows.column(field.name)
            self.nulls[field.name] = self.nulls.get(field.name, 0) + column.null_count
            bounds = _bounds(column, field.type)
            if bounds is None:
                continue
            # Bounds are ints or fixed-width ISO strings: both order correctly with min/max.
            low, high = bounds
            self.minimum[field.name] = min(self.minimum.get(field.name, low), low)
            self.maximum[field.name] = max(self.maximum.get(field.name, high), high)

    def json(self) -> str:
        """Return the Delta `stats` JSON."""
        return json.dumps(
            {
                "numRecords": self.rows,
                "minValues": self.minimum,
                "maxValues": self.maximum,
                "nullCount": self.nulls,
            }
        )


def _bounds(column: pa.ChunkedArray, kind: pa.DataType) -> tuple[Any, Any] | None:
    if column.null_count == len(column) or not (
        pa.types.is_integer(kind) or pa.types.is_timestamp(kind) or pa.types.is_date(kind)
    ):
        return None
    low, high = (v.as_py() for v in pc.min_max(column).values())
    if pa.types.is_integer(kind):
        return low, high
    if pa.types.is_date(kind):
        return low.isoformat(), high.isoformat()
    return _ms_floor(low), _ms_ceil(high)


def _ms_floor(value: dt.datetime) -> str:
    value = value.replace(microsecond=value.microsecond // 1000 * 1000)
    return _iso(value)


def _ms_ceil(value: dt.datetime) -> str:
    if value.microsecond % 1000:
        value = value.replace(microsecond=value.microsecond // 1000 * 1000) + dt.timedelta(
            milliseconds=1
        )
    return _iso(value)


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
