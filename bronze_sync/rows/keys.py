"""Primary-key operations on Arrow tables (single or composite keys)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.errors import SourceDataError
from bronze_sync.rows.keyset import key_hashes, sort_order, sort_shift

_ROW = "__bronze_sync_row"
_OTHER = "__bronze_sync_other"
SAMPLE = 5
HASH_PREFILTER_ROWS = 100_000


def positions(table: pa.Table, other: pa.Table, key_cols: Sequence[str]) -> pa.Int64Array:
    """Return, per row of `table`, the index of the row of `other` with the same key (or null)."""
    if len(key_cols) == 1:
        (col,) = key_cols
        found = pc.index_in(table.column(col), value_set=other.column(col).combine_chunks())
        return found.combine_chunks().cast(pa.int64())
    left = table.select(list(key_cols)).append_column(
        _ROW, pa.array(range(table.num_rows), pa.int64())
    )
    right = other.select(list(key_cols)).append_column(
        _OTHER, pa.array(range(other.num_rows), pa.int64())
    )
    joined = left.join(right, keys=list(key_cols), join_type="left outer").sort_by(_ROW)
    return joined.column(_OTHER).combine_chunks()


def check_keys(table: pa.Table, key_cols: Sequence[str], table_name: str, what: str) -> None:
    """Raise SourceDataError when a key column holds nulls or a key repeats."""
    check_null_keys(table, key_cols, table_name, what)
    refuse_duplicates(duplicate_keys(table, key_cols), key_cols, table_name, what)


def refuse_duplicates(
    duplicates: pa.Table, key_cols: Sequence[str], table_name: str, what: str
) -> None:
    """Raise SourceDataError naming the first `duplicates` (keys that occur more than once)."""
    if duplicates.num_rows:
        sample = ", ".join(
            _format_key(row, key_cols) for row in duplicates.slice(0, SAMPLE).to_pylist()
        )
        raise SourceDataError(
            f"{duplicates.num_rows} primary key value(s) occur more than once in the {what} "
            f"(first: {sample}); nothing was written",
            table=table_name,
        )


def check_null_keys(table: pa.Table, key_cols: Sequence[str], table_name: str, what: str) -> None:
    """Raise SourceDataError when a key column holds nulls."""
    for col in key_cols:
        nulls = table.column(col).null_count
        if nulls:
            raise SourceDataError(
                f"{nulls} {what} row(s) have a null primary key in column {col!r}; "
                "nothing was written",
                table=table_name,
            )


def duplicate_keys(table: pa.Table, key_cols: Sequence[str]) -> pa.Table:
    """Return the keys that occur more than once, with their count."""
    if table.num_rows == 0:
        return table.select(list(key_cols))
    candidates = table.select(list(key_cols))
    if candidates.num_rows > HASH_PREFILTER_ROWS:
        # Only rows whose 64-bit hash repeats can be duplicates; group those exactly.
        hashes = key_hashes(candidates, key_cols)
        order = sort_order(hashes)
        # sort_order groups equal truncated hashes, so compare those: a superset of repeats.
        ordered = hashes[order] >> sort_shift(len(hashes))
        same = ordered[1:] == ordered[:-1]
        repeat = np.zeros(len(ordered), dtype=bool)
        repeat[1:] |= same
        repeat[:-1] |= same
        candidates = candidates.take(pa.array(order[repeat]))
    counts = candidates.group_by(list(key_cols)).aggregate([([], "count_all")])
    return counts.filter(pc.greater(counts.column("count_all"), 1))


def sample_keys(table: pa.Table, key_cols: Sequence[str], limit: int = SAMPLE) -> str:
    """Return the first few keys of `table` as text for logs and errors."""
    rows = table.select(list(key_cols)).slice(0, limit).to_pylist()
    more = f" (+{table.num_rows - limit} more)" if table.num_rows > limit else ""
    return ", ".join(_format_key(r, key_cols) for r in rows) + more


def _format_key(row: dict[str, object], key_cols: Sequence[str]) -> str:
    if len(key_cols) == 1:
        return repr(row[key_cols[0]])
    return "(" + ", ".join(f"{c}={row[c]!r}" for c in key_cols) + ")"
