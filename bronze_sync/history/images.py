"""Turn aligned before/after images of changed rows into history rows.

The one place that decides a history row's Operation and ChangedColumns: the rewrite's
capture (live syncs) and the version diff (repair, backfill, rollback) both call it, so a
version's history is the same whichever path wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.bronze.tracking import SYNC_OPERATION, SyncOp
from bronze_sync.history.columns import (
    CHANGED_COLUMNS,
    FLAG_COLUMNS,
    OPERATION,
    ROLLBACK,
    ROW_REMOVED,
    image_schema,
)
from bronze_sync.rows.values import rows_differ


def conform_image(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """Return `rows` with exactly `schema`'s columns (missing ones null, flags never null)."""
    arrays = []
    for f in schema:
        if f.name in rows.column_names:
            column = rows.column(f.name)
            column = column if column.type == f.type else pc.cast(column, f.type)
        else:
            column = pa.nulls(rows.num_rows, f.type)
        if f.name in FLAG_COLUMNS:
            column = pc.fill_null(column, False)
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=schema)


def changed_columns(before: pa.Table, after: pa.Table, columns: Sequence[str]) -> pa.ListArray:
    """Return per row the names of `columns` whose values differ between the two images."""
    if not columns:
        return pa.array([[] for _ in range(after.num_rows)], pa.list_(pa.string()))
    matrix = np.column_stack(
        [rows_differ(after, before, [name]).to_numpy(zero_copy_only=False) for name in columns]
    )
    offsets = np.concatenate([[0], np.cumsum(matrix.sum(axis=1))]).astype(np.int32)
    names = np.asarray(columns, dtype=object)[np.nonzero(matrix)[1]]
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(names, pa.string()))


def history_rows(
    before: pa.Table | None,
    after: pa.Table,
    bronze: pa.Schema,
    keys: Sequence[str],
    rollback: bool = False,
) -> pa.Table:
    """Return the history rows (without per-version columns) of aligned changed rows.

    `before` is None for rows new to bronze. A row whose compared values are all equal in
    both images is left out: it did not change.
    """
    schema = image_schema(bronze, keys)
    new = conform_image(after, schema)
    ops = after.column(SYNC_OPERATION) if SYNC_OPERATION in after.column_names else None
    if before is None:
        listed = every_column(schema, new.num_rows)
        fallback = SyncOp.INSERT.value
    else:
        old = conform_image(before, schema)
        listed = changed_columns(old, new, schema.names)
        keep = pc.greater(pc.list_value_length(listed), 0)
        new, listed = new.filter(keep), listed.filter(keep)
        ops = ops.filter(keep) if ops is not None else None
        fallback = SyncOp.UPDATE.value
    if rollback:
        operation = pa.repeat(pa.scalar(ROLLBACK), new.num_rows)
    elif ops is None:
        operation = pa.repeat(pa.scalar(fallback), new.num_rows)
    else:
        operation = pc.fill_null(pc.cast(ops, pa.string()), fallback)
    return _with_row_fields(new, operation, listed, removed=False)


def removed_rows(before: pa.Table, bronze: pa.Schema, keys: Sequence[str]) -> pa.Table:
    """Return the ROLLBACK history rows of rows a rollback removed (their last image)."""
    schema = image_schema(bronze, keys)
    old = conform_image(before, schema)
    listed = every_column(schema, old.num_rows)
    operation = pa.repeat(pa.scalar(ROLLBACK), old.num_rows)
    return _with_row_fields(old, operation, listed, removed=True)


def every_column(schema: pa.Schema, rows: int) -> pa.ListArray:
    """Return, for each of `rows` rows, the list of the image's source columns (a new row)."""
    names = [name.encode() for name in schema.names[: -len(FLAG_COLUMNS)]]
    offsets = np.arange(rows + 1, dtype=np.int32) * len(names)
    return pa.ListArray.from_arrays(pa.array(offsets), _repeated_strings(names, rows))


def _repeated_strings(names: list[bytes], times: int) -> pa.Array:
    """Return `names` repeated `times` times as one string array, built from its buffers."""
    # Every row lists the same names: repeating one row's bytes and offsets is a memory copy,
    # where taking each value from a small array cost a quarter of an initial load's history.
    ends = np.cumsum([len(name) for name in names], dtype=np.int64)
    width = int(ends[-1]) if names else 0
    if width * times >= 2**31:  # past string offsets: Arrow's own take raises its error
        return pa.array(names, pa.string()).take(pa.array(np.tile(np.arange(len(names)), times)))
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int32)
    offsets = np.empty(len(names) * times + 1, dtype=np.int32)
    rows = offsets[:-1].reshape(times, len(names))
    np.add(np.arange(times, dtype=np.int32)[:, None] * width, starts[None, :], out=rows)
    offsets[-1] = width * times
    data = pa.py_buffer(b"".join(names) * times)
    return pa.StringArray.from_buffers(len(names) * times, pa.py_buffer(offsets), data)


def _with_row_fields(
    image: pa.Table, operation: pa.Array | pa.ChunkedArray, listed: pa.Array, removed: bool
) -> pa.Table:
    n = image.num_rows
    image = image.append_column(pa.field(OPERATION, pa.string()), _chunked(operation))
    image = image.append_column(pa.field(CHANGED_COLUMNS, pa.list_(pa.string())), _chunked(listed))
    flag = pa.array(np.full(n, removed, dtype=bool))
    return image.append_column(pa.field(ROW_REMOVED, pa.bool_()), _chunked(flag))


def _chunked(values: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
