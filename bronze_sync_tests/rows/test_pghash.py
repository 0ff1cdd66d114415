"""`rows.pghash` gives PostgreSQL's own `hashtextextended`, asked of the real server."""

from __future__ import annotations

import hypothesis.strategies as st
import pyarrow as pa
import pytest
import sqlalchemy as sa
from hypothesis import given, settings

from bronze_sync.rows.pghash import hash_keys, hash_text, hashable_key, key_text

SEEDS = st.sampled_from([0, 1, 2, 7, 5_000_000_000, 2**63 - 1])


def server_hashes(engine: sa.Engine, values: list[str], seed: int) -> list[int]:
    """Return hashtextextended(value, seed) of every value, computed by PostgreSQL."""
    stmt = sa.text(
        'SELECT hashtextextended(v COLLATE "C", :seed) FROM unnest(CAST(:vals AS text[])) '
        "WITH ORDINALITY AS t(v, i) ORDER BY i"
    )
    with engine.connect() as conn:
        return list(conn.execute(stmt, {"vals": values, "seed": seed}).scalars())


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.text(
            st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40
        ),
        max_size=60,
    ),
    seed=SEEDS,
)
def test_text_of_any_length_and_script_hashes_as_postgresql_does(pg_engine, values, seed):
    assert hash_text(pa.array(values, pa.string()), seed).tolist() == server_hashes(
        pg_engine, values, seed
    )


@pytest.mark.parametrize("length", [0, 1, 4, 8, 11, 12, 13, 24, 35, 36, 37, 100])
def test_every_tail_length_around_the_12_byte_blocks(pg_engine, length):
    values = [("x" * length), ("é" * (length // 2)) + "a" * (length % 2), "0" * length]
    assert hash_text(pa.array(values), 0).tolist() == server_hashes(pg_engine, values, 0)


def test_uniform_length_keys_take_the_chunked_path_and_agree(pg_engine):
    # Over CHUNK rows of one length: the zero-copy matrix path, in several chunks.
    values = [f"{i:036d}" for i in range(40_000)]
    chunked = pa.chunked_array([pa.array(values[:100]), pa.array(values[100:])])
    expected = server_hashes(pg_engine, values, 0)
    assert hash_text(chunked, 0).tolist() == expected
    assert hash_text(pa.array(values, pa.large_string()), 0).tolist() == expected


def test_sliced_arrays_hash_their_own_values(pg_engine):
    values = [f"key-{i}" for i in range(50)]
    sliced = pa.array(values).slice(10, 20)
    assert hash_text(sliced, 0).tolist() == server_hashes(pg_engine, values[10:30], 0)


def test_integer_and_composite_keys_hash_as_their_sql_expression(pg_engine):
    keys = pa.table({"n": pa.array([-5, 0, 42, 2**40], pa.int64()), "s": ["a", "b", "c", "d"]})
    stmt = sa.text(
        'SELECT hashtextextended(n::text COLLATE "C", 0) # hashtextextended(s COLLATE "C", 1) '
        "FROM unnest(CAST(:n AS bigint[]), CAST(:s AS text[])) WITH ORDINALITY AS t(n, s, i) "
        "ORDER BY i"
    )
    with pg_engine.connect() as conn:
        expected = list(
            conn.execute(stmt, {"n": keys["n"].to_pylist(), "s": keys["s"].to_pylist()}).scalars()
        )
    assert hash_keys(keys, ["n", "s"]).tolist() == expected


def test_null_keys_and_unsupported_types_are_refused():
    with pytest.raises(ValueError, match="NULL"):
        hash_text(pa.array(["a", None]))
    with pytest.raises(TypeError, match="decimal"):
        key_text(pa.array([1], pa.decimal128(10, 0)))
    assert hashable_key([pa.string(), pa.int32(), pa.string_view()])
    assert not hashable_key([pa.string(), pa.timestamp("us", "UTC")])
