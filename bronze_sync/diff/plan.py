"""Plan a sync at key level: what to insert, what may have changed, what vanished.

No bronze row is read here beyond the key/created/flag columns of `BronzeState`: value
comparison happens while the affected files are rewritten (`bronze.rewrite`), so each file
is read once. Key sets are compared with `KeyIndex` (one index over the source's keys, one
probe with bronze's keys, small probes for the extracted rows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.bronze.reader import FRAGMENT as STATE_FRAGMENT
from bronze_sync.bronze.reader import KEY_HASH, BronzeState
from bronze_sync.bronze.reader import ROW as STATE_ROW
from bronze_sync.bronze.rewrite import FRAGMENT, OP, PURGE, ROW, RowEdits
from bronze_sync.bronze.tracking import SyncOp, live_rows
from bronze_sync.diff.classify import purge_mask, purge_window_open
from bronze_sync.diff.key_buckets import KeyBuckets
from bronze_sync.diff.key_state import KeyTally, tally_after
from bronze_sync.rows.keyset import KeyIndex
from bronze_sync.rows.pghash import hash_keys

FetchRows = Callable[[pa.Table], pa.Table]


@dataclass(frozen=True)
class PlanInput:
    """Everything the planner compares, already conformed to bronze types."""

    key_columns: tuple[str, ...]
    extracted: pa.Table
    state: BronzeState
    source_keys: pa.Table | None
    deleted_keys: pa.Table | None
    last_purge: dt.datetime | None
    now: dt.datetime
    fetch_source: FetchRows
    retained_keys: pa.Table | None = None
    purge_recorded: dt.datetime | None = None
    purge_window_days: int | None = None
    # False when this sync adds source columns: re-extracted rows must then fill them in.
    trust_modified: bool = True
    # Drop re-read rows whose modified value is older than the one bronze holds (a stale read).
    skip_older: bool = True
    # (key column, start): source keys older than this were never loaded, so they are not
    # late inserts (an scd2 table's versions before its first sync's window).
    loaded_from: tuple[str, dt.datetime] | None = None
    # Set when `source_keys` hold only these hash buckets' keys: the key checksums proved
    # every other bucket equal (`diff.key_buckets`); the state then carries KEY_HASH.
    scanned: KeyBuckets | None = None
    # Set (UTC microseconds) to tally the version the plan writes (`diff.key_state`): the
    # next sync's overlap window start; the state then carries KEY_HASH.
    window_since_us: int | None = None

    def effective_purge_date(self) -> dt.datetime | None:
        """Return the purge date classifying this sync's vanished rows (None: no PURGE by age)."""
        if purge_window_open(self.purge_recorded, self.purge_window_days, self.now):
            return self.last_purge
        return None


@dataclass
class SyncPlan:
    """The row edits of one sync and the key-level counts behind them."""

    edits: RowEdits
    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, pa.Table] = field(default_factory=dict)
    active_before: int = 0
    key_tally: KeyTally | None = None  # the version the edits write (PlanInput.window_since_us)

    def count(self, what: str) -> int:
        """Return how many keys are `what` (inserted, candidates, deleted, purged, ...)."""
        return self.counts.get(what, 0)


def plan_sync(inp: PlanInput) -> SyncPlan:
    """Return the sync plan that brings bronze in step with the source."""
    keys = list(inp.key_columns)
    state = inp.state
    active = state.active.to_numpy(zero_copy_only=False)
    if inp.scanned is not None and inp.source_keys is not None:
        extracted, state_pos, present, missing, scanned = _locate_scanned(inp, keys, inp.scanned)
    else:
        extracted, state_pos, present, missing = _locate(inp, keys)
        scanned = np.ones(state.rows.num_rows, dtype=bool)
    missing, not_loaded = _in_window(inp, missing)
    in_extracted = np.zeros(state.rows.num_rows, dtype=bool)
    in_extracted[state_pos[state_pos >= 0]] = True

    if inp.source_keys is not None:
        vanished = active & ~present
        reappeared = ~active & present & scanned & ~in_extracted
    elif inp.deleted_keys is not None:
        gone = KeyIndex(inp.deleted_keys, keys).contains(state.rows.select(keys))
        vanished, reappeared = active & gone & ~in_extracted, np.zeros_like(active)
    else:
        vanished = reappeared = np.zeros_like(active)

    new_rows = extracted.filter(pa.array(state_pos < 0))
    seen = state_pos >= 0
    seen_rows, seen_pos, unmodified, older = _drop_unmodified(
        inp, extracted.filter(pa.array(seen)), state_pos[seen], active
    )
    missing_rows = _fetch(inp, missing)
    back_keys = state.rows.filter(pa.array(reappeared)).select(keys)
    back_rows = _fetch(inp, back_keys)
    # Fetched rows are a subset of back_keys, whose bronze positions are known.
    found = KeyIndex(back_keys, keys).find(back_rows)
    back_rows = back_rows.filter(pa.array(found >= 0))
    back_pos = np.flatnonzero(reappeared)[found[found >= 0]]

    flags = _flags(inp, keys, vanished)
    upserts = _upserts(inp, seen_rows, seen_pos, back_rows, back_pos, active)
    inserts = live_rows(pa.concat_tables([new_rows, missing_rows]), SyncOp.INSERT, inp.now)
    purged = flags.column(PURGE).to_numpy(zero_copy_only=False)
    undeleted = int((~active[seen_pos]).sum()) + back_rows.num_rows
    edits = RowEdits(upserts=upserts, flags=flags, inserts=inserts)
    return SyncPlan(
        edits=edits,
        counts={
            "inserted": inserts.num_rows,
            "late_inserts": missing_rows.num_rows,
            "not_loaded": not_loaded,
            "candidates": seen_rows.num_rows + back_rows.num_rows,
            "unmodified": unmodified,
            "stale_skipped": older.num_rows,
            "undeleted": undeleted,
            "deleted": int((~purged).sum()),
            "purged": int(purged.sum()),
            "vanished_during_sync": (back_keys.num_rows - back_rows.num_rows)
            + ((missing.num_rows if missing is not None else 0) - missing_rows.num_rows),
        },
        samples={
            "stale_skipped": older,
            "deleted": flags.filter(pc.invert(flags.column(PURGE))).select(keys),
            "purged": flags.filter(flags.column(PURGE)).select(keys),
            "undeleted": pa.concat_tables(
                [seen_rows.filter(pa.array(~active[seen_pos])).select(keys), back_rows.select(keys)]
            ),
        },
        active_before=int(active.sum()),
        key_tally=_key_tally(inp, edits),
    )


def _key_tally(inp: PlanInput, edits: RowEdits) -> KeyTally | None:
    """Return the key tally of the version `edits` write, when asked for and computable."""
    modified = inp.state.modified_column
    hashed = KEY_HASH in inp.state.rows.column_names
    if inp.window_since_us is None or modified is None or not hashed:
        return None
    return tally_after(inp.state.rows, edits, inp.key_columns, modified, inp.window_since_us)


def _locate(
    inp: PlanInput, keys: list[str]
) -> tuple[pa.Table, np.ndarray, np.ndarray, pa.Table | None]:
    """Return extracted rows still in the source, their bronze positions, bronze∈source mask,
    and the source keys neither bronze nor the extraction holds (late inserts)."""
    state_keys = inp.state.rows.select(keys)
    extracted = inp.extracted
    if inp.source_keys is None:
        index = KeyIndex(state_keys, keys)
        return extracted, index.find(extracted), np.ones(state_keys.num_rows, dtype=bool), None
    source_index = KeyIndex(inp.source_keys, keys)
    # The key scan ran after extraction: a row it no longer sees is gone.
    extracted_pos = source_index.find(extracted)
    extracted = extracted.filter(pa.array(extracted_pos >= 0))
    extracted_pos = extracted_pos[extracted_pos >= 0]
    state_in_source = source_index.find(state_keys)
    present = state_in_source >= 0
    bronze_of_source = np.full(inp.source_keys.num_rows, -1, dtype=np.int64)
    bronze_of_source[state_in_source[present]] = np.flatnonzero(present)
    known = bronze_of_source >= 0
    known[extracted_pos] = True
    missing = inp.source_keys.filter(pa.array(~known)).select(keys)
    return extracted, bronze_of_source[extracted_pos], present, missing


def _locate_scanned(
    inp: PlanInput, keys: list[str], scanned: KeyBuckets
) -> tuple[pa.Table, np.ndarray, np.ndarray, pa.Table, np.ndarray]:
    """Return what `_locate` does when the source keys cover only the `scanned` buckets.

    Bronze keys outside them count as present (their buckets were proven equal); the last
    array tells which bronze rows the scan covered. Equal keys have equal hashes, so only
    bronze rows whose hash matches are compared key by key.
    """
    state = inp.state.rows
    state_hash = state.column(KEY_HASH).to_numpy()
    source = inp.source_keys
    assert source is not None
    source_index = KeyIndex(source, keys)
    extracted = inp.extracted
    extracted_hash = hash_keys(extracted, keys)
    # The key scan ran after extraction: a row of a scanned bucket it no longer sees is gone.
    keep = ~scanned.covers(extracted_hash) | source_index.contains(extracted)
    extracted, extracted_hash = extracted.filter(pa.array(keep)), extracted_hash[keep]
    state_pos = _find_by_hash(state, state_hash, keys, extracted, extracted_hash)
    covered = scanned.covers(state_hash)
    rows = np.flatnonzero(covered)
    covered_keys = state.select(keys).take(pa.array(rows))
    present = np.ones(state.num_rows, dtype=bool)
    present[rows] = source_index.contains(covered_keys)
    known = KeyIndex(covered_keys, keys).contains(source)
    known |= KeyIndex(extracted, keys).contains(source)
    missing = source.filter(pa.array(~known)).select(keys)
    return extracted, state_pos, present, missing, covered


def _find_by_hash(
    state: pa.Table,
    state_hash: np.ndarray,
    keys: list[str],
    probe: pa.Table,
    probe_hash: np.ndarray,
) -> np.ndarray:
    """Return, per probe row, its position in `state` (or -1), comparing equal hashes only."""
    if not probe.num_rows or not state.num_rows:
        return np.full(probe.num_rows, -1, dtype=np.int64)
    # A hash set of the (small) probe side: 10x a binary search over 10M state hashes.
    wanted = pl.Series(np.unique(probe_hash)).implode()
    candidates = np.flatnonzero(pl.Series(state_hash).is_in(wanted).to_numpy())
    if not len(candidates):
        return np.full(probe.num_rows, -1, dtype=np.int64)
    found = KeyIndex(state.select(keys).take(pa.array(candidates)), keys).find(probe)
    return np.where(found >= 0, candidates[np.maximum(found, 0)], -1)


def _in_window(inp: PlanInput, missing: pa.Table | None) -> tuple[pa.Table | None, int]:
    """Drop the late-insert candidates older than the table's loaded window; count them."""
    if inp.loaded_from is None or missing is None or not missing.num_rows:
        return missing, 0
    column, start = inp.loaded_from
    field = missing.schema.field(column)
    inside = pc.fill_null(
        pc.greater_equal(missing.column(column), pa.scalar(start, field.type)), False
    )
    kept = missing.filter(inside)
    return kept, missing.num_rows - kept.num_rows


def _drop_unmodified(
    inp: PlanInput, rows: pa.Table, positions: np.ndarray, active: np.ndarray
) -> tuple[pa.Table, np.ndarray, int, pa.Table]:
    """Drop re-extracted active rows whose modified value bronze already holds or passed.

    Return the rows kept, their bronze positions, how many bronze already held, and the keys
    of rows older than bronze's (never written: bronze holds a newer version of them).
    """
    column = inp.state.modified_column
    keys = list(inp.key_columns)
    none = rows.select(keys).slice(0, 0)
    if column is None or column not in rows.column_names or not rows.num_rows:
        return rows, positions, 0, none
    # The overlap window re-reads rows bronze already has; the modified column is the
    # source's own change marker (the same one incremental extraction relies on).
    held = inp.state.rows.column(column).take(pa.array(positions))
    held = held.cast(rows.schema.field(column).type)
    live = active[positions]
    same = pc.fill_null(pc.equal(rows.column(column), held), False).to_numpy(zero_copy_only=False)
    same &= live & inp.trust_modified
    older = pc.fill_null(pc.less(rows.column(column), held), False).to_numpy(zero_copy_only=False)
    older &= live & inp.skip_older
    drop = same | older
    stale = rows.filter(pa.array(older)).select(keys)
    return rows.filter(pa.array(~drop)), positions[~drop], int(same.sum()), stale


def _flags(inp: PlanInput, keys: list[str], vanished: np.ndarray) -> pa.Table:
    """Return vanished keys with their PURGE/DELETE verdict and bronze file."""
    state = inp.state
    rows = state.rows.filter(pa.array(vanished))
    retained = None
    if inp.retained_keys is not None and rows.num_rows:
        retained = pa.array(KeyIndex(inp.retained_keys, keys).contains(rows.select(keys)))
    purge = purge_mask(
        rows.num_rows,
        rows.column(state.created_column) if state.created_column else None,
        inp.effective_purge_date(),
        retained,
    )
    return (
        rows.select(keys)
        .append_column(PURGE, purge)
        .append_column(FRAGMENT, rows.column(STATE_FRAGMENT))
        .append_column(ROW, rows.column(STATE_ROW))
    )


def _upserts(
    inp: PlanInput,
    seen_rows: pa.Table,
    seen_pos: np.ndarray,
    back_rows: pa.Table,
    back_pos: np.ndarray,
    active: np.ndarray,
) -> pa.Table:
    """Return candidate rows for keys bronze holds, with their op and bronze file."""
    rows = pa.concat_tables([seen_rows, back_rows])
    positions = np.concatenate([seen_pos, back_pos]).astype(np.int64)
    ops = np.where(active[positions], SyncOp.UPDATE.value, SyncOp.UNDELETE.value)
    op_array = pa.array(ops.tolist(), pa.string())
    table = live_rows(rows, op_array, inp.now)
    where = pa.array(positions)
    fragments = inp.state.rows.column(STATE_FRAGMENT).take(where)
    rows_in_file = inp.state.rows.column(STATE_ROW).take(where)
    return (
        table.append_column(OP, op_array)
        .append_column(FRAGMENT, fragments)
        .append_column(ROW, rows_in_file)
    )


def _fetch(inp: PlanInput, keys: pa.Table | None) -> pa.Table:
    if keys is None or keys.num_rows == 0:
        return inp.extracted.slice(0, 0)
    return inp.fetch_source(keys)
