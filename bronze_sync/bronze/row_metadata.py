"""Opt-in row metadata columns (ARCHITECTURE §11): when and by which batch a row was loaded
and last changed, its source system and a hash of its source values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.bronze.tracking import (
    LAST_SYNCED,
    SYNC_OPERATION,
    TRACKING_NAMES,
    UTC_TIMESTAMP,
    SyncOp,
)
from bronze_sync.rows.record_hash import record_hashes

LOAD_TIMESTAMP = "load_timestamp"
UPDATE_TIMESTAMP = "update_timestamp"
SOURCE_SYSTEM = "source_system"
BATCH_ID = "batch_id"
RECORD_HASH = "record_hash"
METADATA_TYPES: dict[str, pa.DataType] = {
    LOAD_TIMESTAMP: UTC_TIMESTAMP,
    UPDATE_TIMESTAMP: UTC_TIMESTAMP,
    SOURCE_SYSTEM: pa.string(),
    BATCH_ID: pa.string(),
    RECORD_HASH: pa.string(),
}


def metadata_fields(names: Sequence[str]) -> tuple[pa.Field, ...]:
    """Return the fields of the chosen metadata columns, in their canonical order."""
    return tuple(pa.field(n, t) for n, t in METADATA_TYPES.items() if n in names)


@dataclass(frozen=True)
class RowStamp:
    """What one sync writes into the metadata columns of the rows it inserts or changes."""

    names: tuple[str, ...]
    source_system: str
    batch_id: str
    now: dt.datetime
    # When the bronze table was created: the load time of rows that existed before
    # load_timestamp was turned on and changed since (None: unknown).
    table_created: dt.datetime | None = None
    # Source columns bronze itself rewrites (an scd2 table's latest flag): never hashed, or
    # clearing the flag would leave the stored hash stale.
    unhashed: tuple[str, ...] = ()

    def data_columns(self, rows: pa.Table) -> list[str]:
        """Return the columns `record_hash` covers: all but tracking and metadata columns."""
        return hashed_columns(rows.column_names, (*self.names, *self.unhashed))

    def inserted(self, rows: pa.Table) -> pa.Table:
        """Return new rows with every chosen metadata column set."""
        return self.changed(rows, np.ones(rows.num_rows, dtype=bool), fresh=True)

    def changed(self, rows: pa.Table, changed: np.ndarray, fresh: bool = False) -> pa.Table:
        """Return `rows` with the metadata of the `changed` rows set (load time kept)."""
        if not changed.any():
            return rows
        chosen = pa.array(changed)
        values = self._values(rows.filter(chosen))
        for name in self.names:
            old = _column(rows, name)
            new = _spread(values[name], changed, old.type)
            if name == LOAD_TIMESTAMP and not fresh:
                new = pc.coalesce(old, new)  # set on insert, never changed
            rows = _set(rows, name, pc.if_else(chosen, new, old))
        return rows

    def backfill(self, rows: pa.Table) -> tuple[pa.Table, np.ndarray]:
        """Fill the metadata columns rows lack (just turned on); return which rows changed.

        Only null values are filled. `update_timestamp` is LastSynced (the last change bronze
        recorded); `load_timestamp` is LastSynced for rows never changed since their insert,
        else the table's creation; `batch_id` is this sync's batch.
        """
        missing = np.zeros(rows.num_rows, dtype=bool)
        lacking = []
        for name in self.names:
            nulls = _column(rows, name).is_null().to_numpy(zero_copy_only=False)
            if nulls.any():
                lacking.append(name)
                missing |= nulls
        if not missing.any():
            return rows, missing
        values = self._values(rows, hashed=False)
        if RECORD_HASH in lacking:  # hash only the rows without one: hashing is the cost here
            unhashed = _column(rows, RECORD_HASH).is_null()
            hashes = record_hashes(rows.filter(unhashed), self.data_columns(rows))
            nulls = unhashed.to_numpy(zero_copy_only=False)
            values[RECORD_HASH] = _spread(hashes, nulls, pa.string())
        if LOAD_TIMESTAMP in self.names:
            created = pa.scalar(self.table_created, UTC_TIMESTAMP)
            untouched = pc.fill_null(
                pc.equal(rows.column(SYNC_OPERATION), SyncOp.INSERT.value), False
            )
            values[LOAD_TIMESTAMP] = pc.if_else(untouched, values[LOAD_TIMESTAMP], created)
        for name in lacking:
            rows = _set(rows, name, pc.coalesce(_column(rows, name), values[name]))
        return rows, missing

    def _values(self, rows: pa.Table, hashed: bool = True) -> dict[str, pa.Array]:
        n = rows.num_rows
        # A changed row's LastSynced is the moment this sync changed it: use it, so that
        # update_timestamp and load_timestamp agree with the tracking columns to the microsecond.
        if LAST_SYNCED in rows.column_names:
            when = pc.fill_null(rows.column(LAST_SYNCED), pa.scalar(self.now, UTC_TIMESTAMP))
        else:
            when = pa.repeat(pa.scalar(self.now, UTC_TIMESTAMP), n)
        when = when.combine_chunks() if isinstance(when, pa.ChunkedArray) else when
        values = {
            LOAD_TIMESTAMP: when,
            UPDATE_TIMESTAMP: when,
            SOURCE_SYSTEM: pa.repeat(pa.scalar(self.source_system), n),
            BATCH_ID: pa.repeat(pa.scalar(self.batch_id), n),
        }
        if hashed and RECORD_HASH in self.names:
            values[RECORD_HASH] = record_hashes(rows, self.data_columns(rows))
        return values


def hashed_columns(names: Sequence[str], managed: Sequence[str]) -> list[str]:
    """Return the columns `record_hash` covers: all but tracking columns and `managed`."""
    skipped = TRACKING_NAMES | set(managed)
    return [n for n in names if n not in skipped]


def _column(rows: pa.Table, name: str) -> pa.Array:
    index = rows.schema.get_field_index(name)
    if index < 0:
        return pa.nulls(rows.num_rows, METADATA_TYPES[name])
    column = rows.column(index)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _spread(values: pa.Array, where: np.ndarray, kind: pa.DataType) -> pa.Array:
    """Return `values` (one per True of `where`) placed at those rows, null elsewhere."""
    positions = np.cumsum(where) - 1
    taken = values.take(pa.array(np.where(where, positions, 0)))
    return pc.if_else(pa.array(where), taken, pa.nulls(len(where), kind)).cast(kind)


def _set(rows: pa.Table, name: str, values: pa.Array) -> pa.Table:
    index = rows.schema.get_field_index(name)
    field = pa.field(name, METADATA_TYPES[name])
    if index < 0:
        return rows.append_column(field, values)
    return rows.set_column(index, field, values)
