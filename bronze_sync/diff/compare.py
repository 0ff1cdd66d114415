"""Value comparison of aligned rows: only rows whose values really changed are rewritten."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def rows_differ(left: pa.Table, right: pa.Table, columns: list[str]) -> pa.BooleanArray:
    """Return per row whether any of `columns` differs (nulls equal nulls, NaN equals NaN).

    A column missing from `right` (new in the source) counts as null there.
    """
    differs = pa.repeat(False, left.num_rows)
    for name in columns:
        a = left.column(name)
        b = right.column(name) if name in right.column_names else pa.nulls(left.num_rows, a.type)
        if b.type != a.type:
            b = pc.cast(b, a.type)
        same = pc.or_(pc.fill_null(pc.equal(a, b), False), pc.and_(pc.is_null(a), pc.is_null(b)))
        if pa.types.is_floating(a.type):
            same = pc.or_(same, pc.fill_null(pc.and_(pc.is_nan(a), pc.is_nan(b)), False))
        differs = pc.or_(differs, pc.invert(same))
    return differs.combine_chunks() if isinstance(differs, pa.ChunkedArray) else differs
