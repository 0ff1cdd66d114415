"""Compute, outside Delta, the rows one sync must write: only rows that changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.bronze.reader import BronzeState
from bronze_sync.bronze.tracking import (
    IS_DELETED,
    IS_PURGED,
    SyncOp,
    live_rows,
    vanished_rows,
)
from bronze_sync.diff.classify import purge_mask
from bronze_sync.diff.keys import align, in_keys

FetchRows = Callable[[pa.Table], pa.Table]


@dataclass(frozen=True)
class DiffInput:
    """Everything the diff compares, already conformed to bronze types."""

    key_columns: tuple[str, ...]
    target: pa.Schema
    extracted: pa.Table
    state: BronzeState
    source_keys: pa.Table | None
    deleted_keys: pa.Table | None
    last_purge: dt.datetime | None
    now: dt.datetime
    fetch_source: FetchRows
    retained_keys: pa.Table | None = None


@dataclass
class ChangeSet:
    """The rows of one Delta commit and what they do."""

    rows: pa.Table
    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, pa.Table] = field(default_factory=dict)
    active_before: int = 0

    def count(self, what: str) -> int:
        """Return how many rows are `what` (inserted, updated, deleted, ...)."""
        return self.counts.get(what, 0)

    @property
    def empty(self) -> bool:
        """Return True when the commit would change nothing."""
        return self.rows.num_rows == 0


def compute_changes(diff: DiffInput) -> ChangeSet:
    """Return the change set that brings bronze in step with the source."""
    keys = list(diff.key_columns)
    state = diff.state
    extracted = diff.extracted
    if diff.source_keys is not None:
        # The key scan ran after extraction: a row it no longer sees is gone.
        extracted = extracted.filter(in_keys(extracted, diff.source_keys, keys))
    in_bronze = in_keys(extracted, state.rows, keys)
    new_rows = extracted.filter(pc.invert(in_bronze))
    seen_rows = extracted.filter(in_bronze)
    seen_bronze = align(seen_rows, state.rows_for(seen_rows.select(keys)), keys)
    was_flagged = _flagged(seen_bronze)
    changed = rows_differ(seen_rows, seen_bronze, seen_rows.column_names)
    updates = pc.and_(changed, pc.invert(was_flagged))
    unchanged = pc.and_(pc.invert(changed), pc.invert(was_flagged))

    flagged_state = pc.invert(state.active)
    extracted_in_state = in_keys(state.rows, extracted, keys)
    vanished_mask, reappeared_mask, missing = _membership(
        diff, extracted, flagged_state, extracted_in_state
    )
    reappeared_keys = state.rows.filter(reappeared_mask).select(keys)
    reappeared = _fetch(diff, reappeared_keys)
    missing_rows = _fetch(diff, missing)
    # Keys the scan saw whose rows were gone by the time we fetched them.
    gone_meanwhile = (reappeared_keys.num_rows - reappeared.num_rows) + (
        missing.num_rows - missing_rows.num_rows
    )
    vanished = state.rows_for(state.rows.filter(vanished_mask).select(keys))
    purge = purge_mask(
        vanished.num_rows,
        vanished.column(state.created_column) if state.created_column else None,
        diff.last_purge,
        in_keys(vanished, diff.retained_keys, keys) if diff.retained_keys is not None else None,
    )

    parts = [
        _live(diff, new_rows, None, SyncOp.INSERT),
        _live(diff, missing_rows, None, SyncOp.INSERT),
        _live(diff, seen_rows.filter(updates), seen_bronze.filter(updates), SyncOp.UPDATE),
        _live(
            diff, seen_rows.filter(was_flagged), seen_bronze.filter(was_flagged), SyncOp.UNDELETE
        ),
        _live(diff, reappeared, state.rows_for(reappeared.select(keys)), SyncOp.UNDELETE),
        vanished_rows(_complete(vanished, diff.target, None), purge, diff.now),
    ]
    deletes = vanished.filter(pc.invert(purge))
    purges = vanished.filter(purge)
    undeletes = pa.concat_tables(
        [seen_rows.filter(was_flagged).select(keys), reappeared.select(keys)]
    )
    return ChangeSet(
        rows=pa.concat_tables(parts),
        counts={
            "inserted": new_rows.num_rows + missing_rows.num_rows,
            "updated": pc.sum(updates).as_py() or 0,
            "undeleted": undeletes.num_rows,
            "deleted": deletes.num_rows,
            "purged": purges.num_rows,
            "unchanged": pc.sum(unchanged).as_py() or 0,
            "late_inserts": missing_rows.num_rows,
            "vanished_during_sync": gone_meanwhile,
        },
        samples={
            "deleted": deletes.select(keys),
            "purged": purges.select(keys),
            "undeleted": undeletes,
        },
        active_before=pc.sum(state.active).as_py() or 0,
    )


def _membership(
    diff: DiffInput,
    extracted: pa.Table,
    flagged_state: pa.BooleanArray,
    extracted_in_state: pa.BooleanArray,
) -> tuple[pa.BooleanArray, pa.BooleanArray, pa.Table]:
    """Return (vanished, reappeared) masks over bronze rows and the keys bronze misses."""
    keys = list(diff.key_columns)
    state = diff.state
    nothing = pa.repeat(False, state.rows.num_rows)
    if diff.source_keys is not None:
        present = in_keys(state.rows, diff.source_keys, keys)
        vanished = pc.and_(state.active, pc.invert(present))
        reappeared = pc.and_(pc.and_(flagged_state, present), pc.invert(extracted_in_state))
        known = pc.or_(
            in_keys(diff.source_keys, state.rows, keys), in_keys(diff.source_keys, extracted, keys)
        )
        return vanished, reappeared, diff.source_keys.filter(pc.invert(known)).select(keys)
    if diff.deleted_keys is not None:
        gone = in_keys(state.rows, diff.deleted_keys, keys)
        vanished = pc.and_(pc.and_(state.active, gone), pc.invert(extracted_in_state))
        return vanished, nothing, extracted.select(keys).slice(0, 0)
    return nothing, nothing, extracted.select(keys).slice(0, 0)


def rows_differ(left: pa.Table, right: pa.Table, columns: list[str]) -> pa.BooleanArray:
    """Return per row whether any of `columns` differs (nulls equal nulls, NaN equals NaN)."""
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
    return differs.combine_chunks() if isinstance(differs, pa.ChunkedArray) else differs


def _flagged(rows: pa.Table) -> pa.BooleanArray:
    deleted = (
        pc.fill_null(rows.column(IS_DELETED), False) if IS_DELETED in rows.column_names else None
    )
    purged = pc.fill_null(rows.column(IS_PURGED), False) if IS_PURGED in rows.column_names else None
    if deleted is None or purged is None:
        return pa.repeat(False, rows.num_rows)
    return pc.or_(deleted, purged).combine_chunks()


def _fetch(diff: DiffInput, keys: pa.Table) -> pa.Table:
    if keys.num_rows == 0:
        return diff.extracted.slice(0, 0)
    return diff.fetch_source(keys)


def _live(diff: DiffInput, rows: pa.Table, bronze: pa.Table | None, op: SyncOp) -> pa.Table:
    return live_rows(_complete(rows, diff.target, bronze), op, diff.now)


def _complete(rows: pa.Table, target: pa.Schema, fallback: pa.Table | None) -> pa.Table:
    """Return `rows` with exactly the target columns; missing ones from `fallback` or null."""
    arrays = []
    for f in target:
        if f.name in rows.column_names:
            column = rows.column(f.name)
        elif fallback is not None and f.name in fallback.column_names:
            column = fallback.column(f.name)
        else:
            column = pa.chunked_array([pa.nulls(rows.num_rows, f.type)], f.type)
        arrays.append(column if column.type == f.type else pc.cast(column, f.type))
    return pa.Table.from_arrays(arrays, schema=target)
