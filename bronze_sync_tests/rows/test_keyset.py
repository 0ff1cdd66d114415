"""KeyIndex finds keys exactly, even when every hash collides."""

from __future__ import annotations

import hypothesis.strategies as st
import pyarrow as pa
from hypothesis import given, settings

from bronze_sync.rows.keyset import KeyIndex

KEYS = st.lists(st.text(alphabet="abcd", min_size=0, max_size=3), max_size=40, unique=True)


@settings(max_examples=200, deadline=None)
@given(
    index_keys=KEYS,
    probe_keys=st.lists(st.text(alphabet="abcd", max_size=3), max_size=40),
    bits=st.sampled_from([64, 3, 1]),
)
def test_find_matches_a_dictionary_lookup(index_keys, probe_keys, bits):
    index = KeyIndex(pa.table({"id": pa.array(index_keys, pa.string())}), ["id"], hash_bits=bits)
    expected = {k: i for i, k in enumerate(index_keys)}
    found = index.find(pa.table({"id": pa.array(probe_keys, pa.string())}))
    assert found.tolist() == [expected.get(k, -1) for k in probe_keys]


@settings(max_examples=100, deadline=None)
@given(
    index_keys=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["x", "y"])), unique=True, max_size=12
    ),
    probe_keys=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["x", "y"])), max_size=12),
    bits=st.sampled_from([64, 2]),
)
def test_composite_keys(index_keys, probe_keys, bits):
    def table(rows):
        return pa.table(
            {
                "a": pa.array([r[0] for r in rows], pa.int64()),
                "b": pa.array([r[1] for r in rows], pa.string()),
            }
        )

    index = KeyIndex(table(index_keys), ["a", "b"], hash_bits=bits)
    expected = {k: i for i, k in enumerate(index_keys)}
    assert index.find(table(probe_keys)).tolist() == [expected.get(k, -1) for k in probe_keys]


def test_empty_sides():
    empty = pa.table({"id": pa.array([], pa.string())})
    assert KeyIndex(empty, ["id"]).find(pa.table({"id": ["a"]})).tolist() == [-1]
    assert KeyIndex(pa.table({"id": ["a"]}), ["id"]).find(empty).tolist() == []
