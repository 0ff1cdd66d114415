"""History row images: the column lists of new rows."""

from __future__ import annotations

import hypothesis.strategies as st
import pyarrow as pa
from hypothesis import given

from bronze_sync.history.columns import FLAG_COLUMNS
from bronze_sync.history.images import every_column

NAMES = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8, unique=True)


@given(names=NAMES, rows=st.integers(0, 40))
def test_every_new_row_lists_every_source_column_in_order(names, rows):
    flags = [pa.field(name, pa.bool_()) for name in FLAG_COLUMNS]
    schema = pa.schema([pa.field(name, pa.string()) for name in names] + flags)
    listed = every_column(schema, rows)
    listed.validate(full=True)
    assert listed.to_pylist() == [names] * rows
