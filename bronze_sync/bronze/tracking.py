"""The tracking columns bronze adds to every source row (ARCHITECTURE §3)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum

import pyarrow as pa

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")

IS_DELETED = "IsDeleted"
IS_PURGED = "IsPurged"
DELETED_DATE = "DeletedDate"
PURGED_DATE = "PurgedDate"
LAST_SYNCED = "LastSynced"
SYNC_OPERATION = "SyncOperation"

TRACKING_FIELDS: tuple[pa.Field, ...] = (
    pa.field(IS_DELETED, pa.bool_()),
    pa.field(IS_PURGED, pa.bool_()),
    pa.field(DELETED_DATE, UTC_TIMESTAMP),
    pa.field(PURGED_DATE, UTC_TIMESTAMP),
    pa.field(LAST_SYNCED, UTC_TIMESTAMP),
    pa.field(SYNC_OPERATION, pa.string()),
)
TRACKING_NAMES: frozenset[str] = frozenset(f.name for f in TRACKING_FIELDS)


class SyncOp(StrEnum):
    """What the last sync that touched a row did to it."""

    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    PURGE = "PURGE"
    UNDELETE = "UNDELETE"


def bronze_schema(data_schema: pa.Schema, metadata: Sequence[pa.Field] = ()) -> pa.Schema:
    """Return the bronze schema: data columns (field metadata dropped), tracking columns,
    then the row metadata columns the table keeps."""
    fields = [pa.field(f.name, f.type) for f in data_schema]
    return pa.schema([*fields, *TRACKING_FIELDS, *metadata])


def live_rows(data: pa.Table, ops: pa.Array | SyncOp, now: dt.datetime) -> pa.Table:
    """Return `data` with tracking columns of rows present in the source."""
    n = data.num_rows
    op_array = pa.repeat(pa.scalar(ops.value), n) if isinstance(ops, SyncOp) else ops
    return _with_tracking(
        data,
        {
            IS_DELETED: pa.repeat(False, n),
            IS_PURGED: pa.repeat(False, n),
            DELETED_DATE: pa.nulls(n, UTC_TIMESTAMP),
            PURGED_DATE: pa.nulls(n, UTC_TIMESTAMP),
            LAST_SYNCED: pa.repeat(pa.scalar(now, UTC_TIMESTAMP), n),
            SYNC_OPERATION: op_array,
        },
    )


def _with_tracking(data: pa.Table, columns: dict[str, pa.Array]) -> pa.Table:
    for field in TRACKING_FIELDS:
        data = data.append_column(field, pa.chunked_array([columns[field.name]], field.type))
    return data
