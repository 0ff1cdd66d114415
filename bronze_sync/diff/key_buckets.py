"""Compare bronze's keys with the source's by hash bucket, without moving every key.

Both sides hash each key with PostgreSQL's `hashtextextended` (`rows.pghash`), split the
hashes into 2^bits buckets by their low bits, and sum per bucket the key count and the hash's
high 40 bits. Equal key sets give equal buckets; a bucket that differs holds a delete, a late
insert or a reappeared key, and only its keys are fetched and compared (checksum bisection,
as datafold's data-diff does over key ranges).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from bronze_sync.rows.pghash import BUCKET, CHECKSUM, CHECKSUM_SHIFT, KEYS

# bincount sums in float64: a 20-bit half of the 40-bit checksum values stays exact up to
# 2^33 keys per bucket.
_HALF = 20
MIN_BITS, MAX_BITS = 8, 20
# About this many keys per bucket: 10,000 deletes spread over 10M keys then touch 7 % of the
# buckets, so 7 % of the keys are fetched.
KEYS_PER_BUCKET = 64


def bucket_bits(rows: int) -> int:
    """Return how many hash bits name a bucket for a table of `rows` keys."""
    wanted = math.ceil(math.log2(max(1, rows) / KEYS_PER_BUCKET)) if rows > 0 else MIN_BITS
    return max(MIN_BITS, min(MAX_BITS, wanted))


@dataclass(frozen=True)
class BucketSums:
    """Per bucket: how many keys, and the sum of their hashes' high bits."""

    bits: int
    keys: np.ndarray  # int64, one per bucket
    checksums: np.ndarray  # int64, one per bucket

    @classmethod
    def of_hashes(cls, hashes: np.ndarray, bits: int) -> BucketSums:
        """Return the bucket sums of these key hashes."""
        size = 1 << bits
        where = (hashes & (size - 1)).astype(np.intp)
        keys = np.bincount(where, minlength=size).astype(np.int64)
        value = hashes >> CHECKSUM_SHIFT
        # bincount sums in float64: exact per 20-bit half, recombined in int64.
        low = np.bincount(where, weights=value & ((1 << _HALF) - 1), minlength=size)
        high = np.bincount(where, weights=value >> _HALF, minlength=size)
        checksums = (high.astype(np.int64) << _HALF) + low.astype(np.int64)
        return cls(bits, keys, checksums)

    @classmethod
    def from_table(cls, table: pa.Table, bits: int) -> BucketSums:
        """Return the bucket sums of a (Bucket, Keys, Checksum) table, absent buckets zero."""
        size = 1 << bits
        keys = np.zeros(size, dtype=np.int64)
        checksums = np.zeros(size, dtype=np.int64)
        where = table.column(BUCKET).to_numpy()
        if where.size and (where.min() < 0 or where.max() >= size):
            raise ValueError(f"bucket numbers outside 0..{size - 1}")
        np.add.at(keys, where, table.column(KEYS).to_numpy())
        np.add.at(checksums, where, table.column(CHECKSUM).to_numpy())
        return cls(bits, keys, checksums)

    @property
    def total(self) -> int:
        """Return how many keys the buckets hold."""
        return int(self.keys.sum())

    def plus(self, other: BucketSums) -> BucketSums:
        """Return the sums of both key sets (disjoint sets)."""
        return BucketSums(self.bits, self.keys + other.keys, self.checksums + other.checksums)

    def differing(self, other: BucketSums) -> np.ndarray:
        """Return the bucket numbers whose count or checksum differ from `other`'s."""
        if other.bits != self.bits:
            raise ValueError("bucket sums of different widths")
        return np.flatnonzero((self.keys != other.keys) | (self.checksums != other.checksums))


@dataclass(frozen=True)
class KeyBuckets:
    """The hash buckets a partial key scan covers: keys elsewhere were proven unchanged."""

    bits: int
    buckets: np.ndarray  # sorted bucket numbers

    def covers(self, hashes: np.ndarray) -> np.ndarray:
        """Return per key hash whether its bucket is covered."""
        chosen = np.zeros(1 << self.bits, dtype=bool)
        chosen[self.buckets] = True
        return chosen[(hashes & ((1 << self.bits) - 1)).astype(np.intp)]

    @property
    def share(self) -> float:
        """Return the share of the key space covered."""
        return len(self.buckets) / (1 << self.bits)
