"""Key operations over Arrow tables, single and composite."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bronze_sync.diff.keys import check_keys, positions
from bronze_sync.errors import SourceDataError


def test_positions_single_and_composite():
    left = pa.table({"a": [1, 2, 7], "b": ["x", "y", "x"]})
    right = pa.table({"a": [2, 1, 9], "b": ["y", "x", "x"], "v": [20, 10, 90]})
    assert positions(left, right, ["a", "b"]).to_pylist() == [1, 0, None]
    assert positions(left, right, ["a"]).to_pylist() == [1, 0, None]


def test_check_keys_reports_first_duplicates():
    with pytest.raises(SourceDataError, match=r"t: 1 primary key value\(s\).*\(a=1, b='x'\)"):
        check_keys(pa.table({"a": [1, 1, 2], "b": ["x", "x", "x"]}), ["a", "b"], "t", "source")
