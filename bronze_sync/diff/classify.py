"""Purge-aware classification of rows that vanished from the source (ARCHITECTURE §4)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.clock import as_utc
from bronze_sync.rows.values import UTC_TIMESTAMP, as_array, as_timestamps


def purge_mask(
    count: int,
    created: pa.Array | pa.ChunkedArray | None,
    last_purge: dt.datetime | None,
    retained: pa.Array | pa.ChunkedArray | None = None,
) -> pa.BooleanArray:
    """Return, for each of `count` vanished rows, PURGE (True) or DELETE (False).

    PURGE when a purge is recorded and the row was created before it, or when the source
    had moved the row to long-term retention (`retained`). A row without a creation date
    cannot be shown to predate the purge, so it is a DELETE.
    """
    mask: pa.Array = pa.repeat(False, count)
    if created is not None and last_purge is not None:
        created_ts = as_timestamps(created)
        cutoff = pa.scalar(as_utc(last_purge), UTC_TIMESTAMP)
        mask = pc.fill_null(pc.less(created_ts, cutoff), False)
    if retained is not None:
        mask = pc.or_(mask, pc.fill_null(retained, False))
    return as_array(mask)


def purge_window_open(
    recorded: dt.datetime | None, window_days: int | None, now: dt.datetime
) -> bool:
    """Return whether the recorded purge date still classifies vanished rows as PURGE.

    With `purge_window_days`, only rows that vanish within that many days after the purge
    was recorded are PURGE; later vanishings are DELETE, however old the row. A purge
    recorded before bronze kept the recording time has no window.
    """
    if window_days is None or recorded is None:
        return True
    return as_utc(now) <= as_utc(recorded) + dt.timedelta(days=window_days)
