"""Exact membership of one key set in another, at tens of millions of keys.

Hashing 36-character keys into a hash table for every comparison is memory-bound and slow
(pyarrow `is_in`: ~0.6 s per million keys here). Instead each key is hashed to 64 bits
(polars, vectorised), the row position is packed into the low bits, and plain sorting and
binary search on those integers find candidates. A candidate is only a match when the
actual key columns are equal, so hash collisions can never hide a delete: colliding
candidates are resolved by looking at every index entry with the same hash prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

SEED = 0x5EED_B20


SLICE = 1_000_000  # rows converted or compared at a time: bounds the transient copies


def key_hashes(keys: pa.Table, key_cols: Sequence[str], bits: int = 64) -> np.ndarray:
    """Return a 64-bit hash per row of the key columns (only the top `bits` bits kept)."""
    hashes = np.empty(keys.num_rows, dtype=np.uint64)
    selected = keys.select(list(key_cols))
    for start in range(0, keys.num_rows, SLICE):
        # polars copies strings into its own layout: a slice at a time keeps that copy small.
        frame = pl.from_arrow(selected.slice(start, SLICE), rechunk=False)
        assert isinstance(frame, pl.DataFrame)
        if len(key_cols) == 1:
            part = frame.to_series(0).hash(seed=SEED).to_numpy()
        else:
            part = frame.hash_rows(seed=SEED).to_numpy()
        hashes[start : start + len(part)] = part
    if bits < 64:
        hashes = hashes & np.uint64(((1 << bits) - 1) << (64 - bits))
    return hashes


class KeyIndex:
    """A key set that answers "where is this key?" for many keys at once, exactly."""

    def __init__(self, keys: pa.Table, key_cols: Sequence[str], hash_bits: int = 64) -> None:
        self.keys = keys.select(list(key_cols)).combine_chunks()
        self.key_cols = list(key_cols)
        self.hash_bits = hash_bits
        self._shift = max(1, int(keys.num_rows).bit_length())
        packed = self._pack(key_hashes(self.keys, self.key_cols, hash_bits))
        packed.sort()
        self._prefix = packed >> np.uint64(self._shift)
        self._row = (packed & np.uint64((1 << self._shift) - 1)).astype(np.int64)

    def find(self, probe: pa.Table) -> np.ndarray:
        """Return, per probe row, the position of the same key in the index, or -1."""
        n = probe.num_rows
        if n == 0 or self.keys.num_rows == 0:
            return np.full(n, -1, dtype=np.int64)
        prefix = key_hashes(probe, self.key_cols, self.hash_bits) >> np.uint64(self._shift)
        order = sort_order(prefix)
        sorted_prefix = prefix[order]
        slot = np.searchsorted(self._prefix, sorted_prefix)
        inside = slot < len(self._prefix)
        slot = np.where(inside, slot, 0)
        candidate = np.where(inside & (self._prefix[slot] == sorted_prefix), self._row[slot], -1)
        found = np.empty(n, dtype=np.int64)
        found[order] = candidate
        first_slot = np.empty(n, dtype=np.int64)
        first_slot[order] = slot
        return self._verify(probe.select(self.key_cols), found, first_slot, prefix)

    def contains(self, probe: pa.Table) -> np.ndarray:
        """Return, per probe row, whether its key is in the index."""
        return self.find(probe) >= 0

    def _pack(self, hashes: np.ndarray) -> np.ndarray:
        rows = np.arange(len(hashes), dtype=np.uint64)
        return ((hashes >> np.uint64(self._shift)) << np.uint64(self._shift)) | rows

    def _verify(
        self, probe: pa.Table, found: np.ndarray, slot: np.ndarray, prefix: np.ndarray
    ) -> np.ndarray:
        """Keep candidates whose keys are equal; resolve the rest among same-prefix entries."""
        if not (found >= 0).any():
            return found
        # Compare in probe order: only the index side needs a (random-access) take.
        equal = self._equal(probe, np.where(found >= 0, found, 0))
        wrong = np.flatnonzero((found >= 0) & ~equal)
        for i in wrong:  # hash collisions: rare with 64 bits, so a loop over them is fine
            found[i] = self._scan_run(probe.slice(int(i), 1), int(slot[i]), prefix[i])
        return found

    def _equal(self, probe: pa.Table, rows: np.ndarray) -> np.ndarray:
        same = np.ones(len(rows), dtype=bool)
        for start in range(0, len(rows), SLICE):
            stop = start + SLICE
            candidates = self.keys.take(pa.array(rows[start:stop]))
            part = probe.slice(start, SLICE)
            for col in self.key_cols:
                eq = pc.fill_null(pc.equal(part.column(col), candidates.column(col)), False)
                same[start:stop] &= eq.to_numpy(zero_copy_only=False)
        return same

    def _scan_run(self, one: pa.Table, slot: int, prefix: np.uint64) -> int:
        while slot < len(self._prefix) and self._prefix[slot] == prefix:
            row = int(self._row[slot])
            if self._equal(one, np.array([row]))[0]:
                return row
            slot += 1
        return -1


def sort_order(values: np.ndarray) -> np.ndarray:
    """Return a permutation that sorts `values` by `values >> sort_shift(len(values))`.

    The lowest bits are dropped to make room for the row number (a plain sort beats argsort
    about 6x); rows whose truncated values are equal end up contiguous.
    """
    bits = sort_shift(len(values))
    packed = ((values >> bits) << bits) | np.arange(len(values), dtype=np.uint64)
    packed.sort()
    return (packed & ((np.uint64(1) << bits) - np.uint64(1))).astype(np.int64)


def sort_shift(count: int) -> np.uint64:
    """Return how many low bits `sort_order` drops for `count` rows."""
    return np.uint64(max(1, count.bit_length()))
