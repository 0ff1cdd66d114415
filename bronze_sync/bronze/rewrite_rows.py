"""Row-level edits of one batch of a data file: replace changed rows, flag vanished ones,
bring old rows to a new schema and fill columns whose values come from the source."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.bronze.tracking import (
    DELETED_DATE,
    IS_DELETED,
    IS_PURGED,
    LAST_SYNCED,
    PURGED_DATE,
    SYNC_OPERATION,
    TRACKING_NAMES,
    UTC_TIMESTAMP,
    SyncOp,
)
from bronze_sync.errors import BronzeError
from bronze_sync.rows.keyset import KeyIndex
from bronze_sync.rows.values import rows_differ

FRAGMENT = "__fragment"
ROW = "__row"
OP = "__op"
PURGE = "__purge"


@dataclass
class Tally:
    """What the edits of one batch (or file, or commit) did."""

    updated: int = 0
    undeleted: int = 0
    unchanged: int = 0
    filled: int = 0
    changed: int = 0  # distinct rows whose bronze image changed (any reason)

    def add(self, other: Tally) -> None:
        """Add `other`'s counts to these."""
        self.updated += other.updated
        self.undeleted += other.undeleted
        self.unchanged += other.unchanged
        self.filled += other.filled
        self.changed += other.changed


def in_rows(edits: pa.Table, offset: int, count: int) -> pa.Table:
    """Return the edits of rows offset..offset+count-1, numbered from the batch's start."""
    row = pc.cast(edits.column(ROW), pa.int64())
    inside = pc.and_(pc.greater_equal(row, offset), pc.less(row, offset + count))
    shifted = pc.subtract(row.filter(inside), offset)
    chosen = edits.filter(inside)
    return chosen.set_column(chosen.schema.get_field_index(ROW), ROW, shifted)


def apply_edits(
    old: pa.Table,
    upserts: pa.Table,
    flags: pa.Table,
    keys: Sequence[str],
    now: dt.datetime,
    changed: np.ndarray | None = None,
) -> tuple[pa.Table | None, Tally, np.ndarray, np.ndarray]:
    """Return the batch's new rows (None when nothing really changes) and the tallies.

    Also return, per new row, the number of the `old` row it came from (replaced rows move
    to the end) and whether it changed; `changed` marks rows earlier edits already changed.
    """
    tally = Tally()
    changed = np.zeros(old.num_rows, dtype=bool) if changed is None else changed
    where = _rows_of(upserts, old, keys)
    before = old.take(pa.array(where))
    data = [c for c in old.column_names if c not in TRACKING_NAMES and c in upserts.column_names]
    undelete = pc.equal(upserts.column(OP), SyncOp.UNDELETE.value)
    effective = pc.or_(undelete, rows_differ(upserts, before, data)).to_numpy(zero_copy_only=False)
    tally.undeleted = int(pc.sum(undelete).as_py() or 0)
    tally.updated = int(effective.sum()) - tally.undeleted
    tally.unchanged = len(effective) - int(effective.sum())
    if not effective.any() and flags.num_rows == 0:
        return None, tally, np.arange(old.num_rows), changed
    # Flags and upserts never share a key, so flagging first keeps row numbers valid.
    if flags.num_rows:
        old, flagged = _flag(old, flags, keys, now)
        changed = changed | flagged
    replaced = mask(old.num_rows, where[effective])
    kept = np.nonzero(~replaced)[0]
    chosen = pa.array(effective)
    written = conform(upserts.filter(chosen), old.schema, fallback=before.filter(chosen))
    new = old.take(pa.array(kept))
    if written.num_rows:
        new = pa.concat_tables([new, written])
    origin = np.concatenate([kept, where[effective]])
    changed = np.concatenate([changed[kept], np.ones(written.num_rows, dtype=bool)])
    return new, tally, origin, changed


def clear_latest(
    rows: pa.Table, unlatest: pa.Table, keys: Sequence[str], latest_column: str, now: dt.datetime
) -> tuple[pa.Table, np.ndarray]:
    """Clear the latest flag of the versions `unlatest` names (a newer version arrived).

    Return the rows and which rows' flags really changed (stamped UPDATE, LastSynced now).
    """
    where = _rows_of(unlatest, rows, keys)
    flag = rows.column(latest_column)
    hit = mask(rows.num_rows, where) & pc.fill_null(flag, False).to_numpy(zero_copy_only=False)
    if not hit.any():
        return rows, hit
    chosen = pa.array(hit)
    updates = {
        latest_column: pc.if_else(chosen, pa.scalar(False, flag.type), flag),
        LAST_SYNCED: pc.if_else(chosen, pa.scalar(now, UTC_TIMESTAMP), rows.column(LAST_SYNCED)),
        SYNC_OPERATION: pc.if_else(chosen, SyncOp.UPDATE.value, rows.column(SYNC_OPERATION)),
    }
    for name, values in updates.items():
        index = rows.schema.get_field_index(name)
        rows = rows.set_column(index, rows.schema.field(index), values)
    return rows, hit


def upgrade(rows: pa.Table, schema: pa.Schema, now: dt.datetime) -> pa.Table:
    """Return `rows` in the new bronze `schema`: new columns null, widened types cast, and
    tracking columns a table created before they existed lacks given their live defaults."""
    rows = conform(rows, schema)
    defaults = {
        IS_DELETED: pa.scalar(False),
        IS_PURGED: pa.scalar(False),
        LAST_SYNCED: pa.scalar(now, UTC_TIMESTAMP),
        SYNC_OPERATION: pa.scalar(SyncOp.INSERT.value),
    }
    for name, value in defaults.items():
        index = rows.schema.get_field_index(name)
        if index >= 0 and rows.column(index).null_count:
            filled = pc.fill_null(rows.column(index), value)
            rows = rows.set_column(index, rows.schema.field(index), filled)
    return rows


def fill(
    rows: pa.Table, index: KeyIndex, values: pa.Table, columns: Sequence[str], now: dt.datetime
) -> tuple[pa.Table, np.ndarray]:
    """Set `columns` of every row whose key `index` holds to the source's `values`.

    Return the rows and which of them really changed (stamped UPDATE, LastSynced now).
    """
    where = index.find(rows.select(index.key_cols))
    found = where >= 0
    if not found.any():
        return rows, found
    take = pa.array(np.where(found, where, 0))
    new = values.select(list(columns)).take(take)
    hit = pa.array(found)
    replaced = rows
    for name in columns:
        i = replaced.schema.get_field_index(name)
        target = replaced.schema.field(i)
        column = pc.if_else(hit, new.column(name).cast(target.type), rows.column(i))
        replaced = replaced.set_column(i, target, column)
    changed = pc.and_(hit, rows_differ(replaced, rows, list(columns)))
    changed_mask = changed.to_numpy(zero_copy_only=False)
    if not changed_mask.any():
        return rows, changed_mask
    stamp = {
        LAST_SYNCED: pa.scalar(now, UTC_TIMESTAMP),
        SYNC_OPERATION: pa.scalar(SyncOp.UPDATE.value),
    }
    for name, value in stamp.items():
        i = replaced.schema.get_field_index(name)
        column = pc.if_else(changed, value, replaced.column(i))
        replaced = replaced.set_column(i, replaced.schema.field(i), column)
    return replaced, changed_mask


def _flag(
    rows: pa.Table, flags: pa.Table, keys: Sequence[str], now: dt.datetime
) -> tuple[pa.Table, np.ndarray]:
    """Mark the flagged keys' rows deleted or purged, in place; return them and a mask."""
    where = _rows_of(flags, rows, keys)
    purge = flags.column(PURGE).to_numpy(zero_copy_only=False)
    deleted = pa.array(mask(rows.num_rows, where[~purge]))
    purged = pa.array(mask(rows.num_rows, where[purge]))
    any_flag = pc.or_(deleted, purged)
    when = pa.scalar(now, UTC_TIMESTAMP)
    updates = {
        IS_DELETED: pc.if_else(deleted, True, rows.column(IS_DELETED)),
        IS_PURGED: pc.if_else(purged, True, rows.column(IS_PURGED)),
        DELETED_DATE: pc.if_else(deleted, when, rows.column(DELETED_DATE)),
        PURGED_DATE: pc.if_else(purged, when, rows.column(PURGED_DATE)),
        LAST_SYNCED: pc.if_else(any_flag, when, rows.column(LAST_SYNCED)),
        SYNC_OPERATION: pc.if_else(
            purged,
            SyncOp.PURGE.value,
            pc.if_else(deleted, SyncOp.DELETE.value, rows.column(SYNC_OPERATION)),
        ),
    }
    for name, values in updates.items():
        index = rows.schema.get_field_index(name)
        rows = rows.set_column(index, rows.schema.field(index), values)
    return rows, mask(rows.num_rows, where)


def _rows_of(edits: pa.Table, rows: pa.Table, keys: Sequence[str]) -> np.ndarray:
    """Return the row numbers in `rows` (a data file batch) of the keys in `edits`."""
    if edits.num_rows == 0:
        return np.zeros(0, dtype=np.int64)
    # The plan read these positions from the same file at the same version; checking the
    # keys there costs one vectorised compare and guards against any drift.
    where = edits.column(ROW).to_numpy(zero_copy_only=False).astype(np.int64)
    held = rows.select(list(keys)).take(pa.array(where))
    for key in keys:
        if pc.all(pc.equal(edits.column(key), held.column(key))).as_py() is not True:
            raise BronzeError(f"data file rows moved since the plan (key column {key})")
    return where


def mask(size: int, where: np.ndarray) -> np.ndarray:
    """Return a boolean mask of `size` rows, True at `where`."""
    result = np.zeros(size, dtype=bool)
    result[where] = True
    return result


def conform(rows: pa.Table, schema: pa.Schema, fallback: pa.Table | None = None) -> pa.Table:
    """Return `rows` with exactly `schema`'s columns and types.

    A column `rows` lacks (one the source dropped) keeps the `fallback` row's value when given,
    else is null.
    """
    arrays = []
    for f in schema:
        if f.name in rows.column_names:
            column = rows.column(f.name)
            arrays.append(column if column.type == f.type else pc.cast(column, f.type))
        elif fallback is not None and f.name in fallback.column_names:
            arrays.append(fallback.column(f.name))
        else:
            arrays.append(pa.nulls(rows.num_rows, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)
