"""Bucket sums: equal key sets give equal buckets; each kind of difference shows."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings

from bronze_sync.diff.key_buckets import BucketSums, KeyBuckets, bucket_bits
from bronze_sync.rows.pghash import BUCKET, CHECKSUM, CHECKSUM_SHIFT, KEYS

HASHES = st.lists(st.integers(-(2**63), 2**63 - 1), unique=True, max_size=300)


def sums(hashes, bits=8):
    return BucketSums.of_hashes(np.array(hashes, dtype=np.int64), bits)


@settings(max_examples=200, deadline=None)
@given(hashes=HASHES, bits=st.integers(1, 10))
def test_bucket_sums_are_exact_per_bucket(hashes, bits):
    result = sums(hashes, bits)
    for bucket in range(1 << bits):
        mine = [h for h in hashes if h & ((1 << bits) - 1) == bucket]
        assert result.keys[bucket] == len(mine)
        assert result.checksums[bucket] == sum(h >> CHECKSUM_SHIFT for h in mine)


@settings(max_examples=200, deadline=None)
@given(hashes=HASHES, data=st.data())
def test_only_buckets_holding_a_difference_differ(hashes, data):
    gone = data.draw(st.lists(st.sampled_from(hashes), unique=True)) if hashes else []
    added = data.draw(HASHES.map(lambda hs: [h for h in hs if h not in hashes]))
    before, after = sums(hashes), sums([h for h in hashes if h not in gone] + added)
    touched = {h & 255 for h in gone + added}
    assert set(before.differing(after).tolist()) == touched
    # Adding the arriving keys to the old set reproduces the new one wherever nothing left.
    assert not before.plus(sums(added)).differing(after).size or gone


def test_a_delete_balanced_by_an_insert_in_the_same_bucket_still_differs():
    kept, gone, new = 1 << 30, 5 << 30, 9 << 30  # same low bits: one bucket, equal count
    before, after = sums([kept, gone]), sums([kept, new])
    assert before.total == after.total
    assert before.differing(after).tolist() == [0]


def test_sums_from_a_source_table_add_up_parallel_partial_results():
    table = pa.table(
        {BUCKET: [3, 3, 0], KEYS: [2, 1, 4], CHECKSUM: [10, -4, 7]},
        schema=pa.schema([(BUCKET, pa.int64()), (KEYS, pa.int64()), (CHECKSUM, pa.int64())]),
    )
    result = BucketSums.from_table(table, 2)
    assert result.keys.tolist() == [4, 0, 0, 3]
    assert result.checksums.tolist() == [7, 0, 0, 6]
    with pytest.raises(ValueError, match="outside"):
        BucketSums.from_table(table, 1)


def test_covered_buckets_and_bucket_width():
    scanned = KeyBuckets(4, np.array([1, 7]))
    assert scanned.covers(np.array([1, 17, 7, 8, -9], dtype=np.int64)).tolist() == [
        True, True, True, False, True
    ]
    assert scanned.share == 2 / 16
    assert bucket_bits(0) == bucket_bits(100) == 8
    assert bucket_bits(10_000_000) == 18
    assert bucket_bits(10**12) == 20
