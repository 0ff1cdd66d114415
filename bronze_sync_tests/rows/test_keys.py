"""Key operations over Arrow tables, single and composite."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bronze_sync.errors import SourceDataError
from bronze_sync.rows.keys import check_keys, positions


def test_positions_single_and_composite():
    left = pa.table({"a": [1, 2, 7], "b": ["x", "y", "x"]})
    right = pa.table({"a": [2, 1, 9], "b": ["y", "x", "x"], "v": [20, 10, 90]})
    assert positions(left, right, ["a", "b"]).to_pylist() == [1, 0, None]
    assert positions(left, right, ["a"]).to_pylist() == [1, 0, None]


def test_check_keys_reports_first_duplicates():
    with pytest.raises(SourceDataError, match=r"t: 1 primary key value\(s\).*\(a=1, b='x'\)"):
        check_keys(pa.table({"a": [1, 1, 2], "b": ["x", "x", "x"]}), ["a", "b"], "t", "source")


def test_duplicates_found_exactly_on_large_key_sets():
    from bronze_sync.rows.keys import HASH_PREFILTER_ROWS, duplicate_keys

    n = HASH_PREFILTER_ROWS + 10
    ids = [f"k{i}" for i in range(n)] + ["k7", "k7", "k99"]
    dupes = duplicate_keys(pa.table({"id": ids}), ["id"])
    assert sorted(
        zip(dupes.column("id").to_pylist(), dupes.column("count_all").to_pylist(), strict=True)
    ) == [
        ("k7", 3),
        ("k99", 2),
    ]


def test_duplicates_survive_interleaved_truncated_hashes(monkeypatch):
    import numpy as np

    from bronze_sync.rows import keys as keys_module

    # Force every key into one truncated-hash bucket with distinct full hashes interleaved.
    def fake_hashes(table, cols, bits=64):
        values = [int(v[1:]) for v in table.column(cols[0]).to_pylist()]
        return np.array([(1 << 63) | (v % 3) for v in values], dtype=np.uint64)

    monkeypatch.setattr(keys_module, "HASH_PREFILTER_ROWS", 2)
    monkeypatch.setattr(keys_module, "key_hashes", fake_hashes)
    dupes = keys_module.duplicate_keys(pa.table({"id": ["k0", "k1", "k3", "k4", "k0"]}), ["id"])
    assert dupes.column("id").to_pylist() == ["k0"]
