"""Bucket sums: equal key sets give equal buckets; each kind of difference shows."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from bronze_sync.diff.key_buckets import BucketSums, KeyBuckets, bucket_bits, total_checksum

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
        wrapped = (sum(mine) + 2**63) % 2**64 - 2**63  # the int64 view of the sum mod 2^64
        assert result.checksums[bucket] == wrapped


@settings(max_examples=200, deadline=None)
@given(hashes=HASHES, data=st.data())
def test_a_bucket_differs_when_one_of_its_keys_left_or_arrived(hashes, data):
    # Sums can cancel only for hashes picked to cancel; real hashes are random 64-bit values.
    gone = (
        data.draw(st.lists(st.sampled_from(hashes), unique_by=lambda h: h & 255)) if hashes else []
    )
    taken = {h & 255 for h in gone}
    fresh = data.draw(HASHES)
    added = list({h & 255: h for h in fresh if h not in hashes and h & 255 not in taken}.values())
    before, after = sums(hashes), sums([h for h in hashes if h not in gone] + added)
    assert set(before.differing(after).tolist()) == {h & 255 for h in gone + added}


def test_a_delete_balanced_by_an_insert_in_the_same_bucket_still_differs():
    kept, gone, new = 1 << 30, 5 << 30, 5 << 8  # one bucket, equal count, equal high bits
    before, after = sums([kept, gone]), sums([kept, new])
    assert before.total == after.total
    assert before.differing(after).tolist() == [0]


def test_sums_added_batch_by_batch_equal_the_sums_of_all_hashes():
    hashes = np.array([3, -7, 2**62, -(2**63), 12345678901234], dtype=np.int64)
    streamed = BucketSums.empty(3)
    streamed.add(hashes[:2])
    streamed.add(hashes[2:])
    whole = BucketSums.of_hashes(hashes, 3)
    assert not streamed.differing(whole).size and streamed.total == 5
    with pytest.raises(ValueError, match="widths"):
        whole.differing(BucketSums.empty(4))


def test_the_total_checksum_is_the_count_and_the_xor_of_every_hash():
    hashes = np.array([2**63 - 1, 6, -5], dtype=np.int64)
    assert total_checksum(hashes) == (3, (2**63 - 1) ^ 6 ^ -5)
    assert total_checksum(hashes[:0]) == (0, 0)


def test_covered_buckets_and_bucket_width():
    scanned = KeyBuckets(4, np.array([1, 7]))
    assert scanned.covers(np.array([1, 17, 7, 8, -9], dtype=np.int64)).tolist() == [
        True,
        True,
        True,
        False,
        True,
    ]
    assert scanned.share == 2 / 16
    assert bucket_bits(0) == bucket_bits(100) == 8
    assert bucket_bits(10_000_000) == 18
    assert bucket_bits(10**12) == 20
