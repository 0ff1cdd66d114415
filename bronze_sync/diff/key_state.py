"""What a no-op sync compares instead of bronze's rows: one table version's key tallies.

A `KeyTally` folds bronze's active keys (count and XOR of their `pghash` key hashes) and its
active rows inside the next sync's overlap window (count and XOR of a mix of key hash and
modified time) into four numbers. A sync that commits computes the tally of the version it
writes from the state it read and its own edits (XOR removes and adds rows alike), so the next
sync can prove "nothing changed" from the source's key checksum and the rows its overlap window
re-reads, without reading bronze (`sync.noop`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from bronze_sync.bronze.reader import FRAGMENT as STATE_FRAGMENT
from bronze_sync.bronze.reader import KEY_HASH, active_mask
from bronze_sync.bronze.reader import ROW as STATE_ROW
from bronze_sync.bronze.rewrite import FRAGMENT, ROW, RowEdits
from bronze_sync.rows.pghash import hash_keys
from bronze_sync.rows.values import as_timestamps

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class KeyTally:
    """Active keys and overlap-window rows of a bronze version, as counts and XOR checksums."""

    active: int = 0
    active_xor: int = 0
    window: int = 0
    window_xor: int = 0
    newest_us: int | None = None  # the newest modified time among the rows this tally wrote

    def __add__(self, other: KeyTally) -> KeyTally:
        """Return the tally of two disjoint row sets."""
        newest = [n for n in (self.newest_us, other.newest_us) if n is not None]
        return KeyTally(
            self.active + other.active,
            self.active_xor ^ other.active_xor,
            self.window + other.window,
            self.window_xor ^ other.window_xor,
            max(newest) if newest else None,
        )


@dataclass(frozen=True)
class KeyState:
    """A bronze version's key tally, and what it depends on (saved in PipelineConfig)."""

    table_id: str  # the Delta table's metadata id: a re-created table restarts its versions
    version: int
    key_columns: tuple[str, ...]
    modified_column: str
    overlap_minutes: int
    since_us: int  # the next sync's overlap window starts here (watermark - overlap)
    tally: KeyTally
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        """Return the state as one JSON object."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: object) -> KeyState | None:
        """Return the state saved as `text`, or None when there is none (or it is unreadable)."""
        if not isinstance(text, str) or not text:
            return None
        try:
            data: dict[str, Any] = json.loads(text)
            tally = KeyTally(**data.pop("tally"))
            data["key_columns"] = tuple(data["key_columns"])
            return cls(tally=tally, **data)
        except (ValueError, TypeError, KeyError):
            return None  # an older or damaged record only costs one full state read


def micros(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Return timestamps as UTC microseconds, and which of them are not null."""
    stamps = as_timestamps(values).cast(pa.int64())
    present = ~np.asarray(stamps.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return np.asarray(stamps.fill_null(0).to_numpy(zero_copy_only=False), np.int64), present


def row_mix(key_hash: np.ndarray, modified_us: np.ndarray) -> np.ndarray:
    """Return one 64-bit value per (key hash, modified time) pair (splitmix64 finalizer)."""
    with np.errstate(over="ignore"):
        x = key_hash.astype(np.uint64) ^ (modified_us.astype(np.uint64) * _GOLDEN)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def tally_rows(
    key_hash: np.ndarray, modified: pa.Array | pa.ChunkedArray, since_us: int
) -> KeyTally:
    """Return the tally of active rows: their keys, and those modified at or after `since_us`."""
    stamps, present = micros(modified)
    inside = present & (stamps >= since_us)
    mixed = row_mix(key_hash[inside], stamps[inside])
    return KeyTally(
        active=len(key_hash),
        active_xor=_xor(key_hash),
        window=int(inside.sum()),
        window_xor=_xor(mixed),
        newest_us=int(stamps[present].max()) if present.any() else None,
    )


def tally_after(
    state: pa.Table,
    edits: RowEdits,
    key_columns: tuple[str, ...],
    modified_column: str,
    since_us: int,
) -> KeyTally:
    """Return the tally of the version `edits` write over `state` (a merged table's edits).

    Every upserted and inserted row ends active; every flagged row ends inactive; every other
    state row keeps what it was. `newest_us` is the newest modified time the edits write.
    """
    touched = np.concatenate(
        [_codes(edits.upserts, FRAGMENT, ROW), _codes(edits.flags, FRAGMENT, ROW)]
    )
    # A hash set of the few touched rows, probed by every state row (np.isin sorts both).
    codes = pl.Series(_codes(state, STATE_FRAGMENT, STATE_ROW))
    hit = codes.is_in(pl.Series(touched, dtype=pl.Int64).implode()).to_numpy()
    kept = active_mask(state) & ~hit
    hashes = state.column(KEY_HASH).to_numpy()[kept]
    old = tally_rows(hashes, state.column(modified_column).filter(pa.array(kept)), since_us)
    names = [*key_columns, modified_column]
    parts = [t.select(names) for t in (edits.upserts, edits.inserts) if t.num_rows]
    if not parts:
        return replace(old, newest_us=None)
    written = pa.concat_tables(parts, promote_options="default")
    new = tally_rows(hash_keys(written, key_columns), written.column(modified_column), since_us)
    return replace(old, newest_us=None) + new


def tally_extracted(
    rows: pa.Table, key_columns: tuple[str, ...], modified_column: str
) -> tuple[int, int, bool]:
    """Return the window count and checksum of extracted rows, and whether all have a time."""
    stamps, present = micros(rows.column(modified_column))
    mixed = row_mix(hash_keys(rows, key_columns), stamps)
    return rows.num_rows, _xor(mixed), bool(present.all())


def _codes(rows: pa.Table, fragment: str, row: str) -> np.ndarray:
    """Return one int64 per row naming its bronze file and row in it."""
    if not rows.num_rows:
        return np.empty(0, dtype=np.int64)
    files = rows.column(fragment).to_numpy().astype(np.int64)
    return (files << 32) | rows.column(row).to_numpy().astype(np.int64)


def _xor(values: np.ndarray) -> int:
    if not len(values):
        return 0
    return int(np.bitwise_xor.reduce(values.astype(np.uint64)).astype(np.int64))
