"""Key operations over Arrow tables, single and composite."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bronze_sync.diff.keys import align, check_keys, in_keys, positions
from bronze_sync.errors import SourceDataError


def test_in_keys_single_and_composite():
    table = pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert in_keys(table, pa.table({"a": [3, 1]}), ["a"]).to_pylist() == [True, False, True]
    keys = pa.table({"a": [2, 3], "b": ["y", "q"]})
    assert in_keys(table, keys, ["a", "b"]).to_pylist() == [False, True, False]


def test_positions_and_align_composite():
    left = pa.table({"a": [1, 2], "b": ["x", "y"]})
    right = pa.table({"a": [2, 1, 9], "b": ["y", "x", "x"], "v": [20, 10, 90]})
    assert positions(left, right, ["a", "b"]).to_pylist() == [1, 0]
    assert align(left, right, ["a", "b"]).column("v").to_pylist() == [10, 20]


def test_check_keys_reports_first_duplicates():
    with pytest.raises(SourceDataError, match=r"t: 1 primary key value\(s\).*\(a=1, b='x'\)"):
        check_keys(pa.table({"a": [1, 1, 2], "b": ["x", "x", "x"]}), ["a", "b"], "t", "source")
