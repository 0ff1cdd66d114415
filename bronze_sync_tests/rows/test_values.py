"""Row comparison: only rows whose values really changed are rewritten."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa

from bronze_sync.rows.values import rows_differ


def test_nulls_equal_nulls_and_nan_equals_nan():
    left = pa.table({"x": [None, float("nan"), 1.0, 2.0], "y": ["a", None, "b", "c"]})
    right = pa.table({"x": [None, float("nan"), 1.0, 2.5], "y": ["a", None, "B", "c"]})
    assert rows_differ(left, right, ["x", "y"]).to_pylist() == [False, False, True, True]


def test_decimal_scale_does_not_make_a_difference_once_typed():
    t = pa.decimal128(19, 4)
    left = pa.table({"d": pa.array([Decimal("1.5")], t)})
    right = pa.table({"d": pa.array([Decimal("1.5000")], t)})
    assert rows_differ(left, right, ["d"]).to_pylist() == [False]


def test_column_missing_in_bronze_counts_as_null():
    left = pa.table({"new": ["v", None]})
    right = pa.table({"other": [1, 2]})
    assert rows_differ(left, right, ["new"]).to_pylist() == [True, False]
