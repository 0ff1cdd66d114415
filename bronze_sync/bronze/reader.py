"""Read what a sync needs from a bronze Delta table, column by column.

Filters on string columns cannot be pushed into pyarrow datasets over delta-rs files
(the files carry `string_view` statistics pyarrow 26 cannot compare), so keys are matched
in memory over projected columns, one file at a time.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
from deltalake import DeltaTable

from bronze_sync.bronze.tracking import IS_DELETED, IS_PURGED
from bronze_sync.rows.pghash import hash_keys
from bronze_sync.rows.values import as_timestamps

FRAGMENT = "__bronze_sync_fragment"
ROW = "__bronze_sync_row"  # the row's position inside its data file
KEY_HASH = "__bronze_sync_key_hash"  # the key's hashtextextended (rows.pghash), when asked


@dataclass(frozen=True)
class StateScope:
    """Which files a state read covers (partition values) and which extra columns it reads."""

    partition_column: str | None = None
    values: frozenset[Any] | None = None  # None: every partition
    columns: tuple[str, ...] = ()

    def includes(self, fragment: pds.Fragment) -> bool:
        """Return True when the data file belongs to the scope's partitions."""
        if self.values is None or self.partition_column is None:
            return True
        keys = pds.get_partition_keys(fragment.partition_expression)
        return keys.get(self.partition_column) in self.values


@dataclass(frozen=True)
class BronzeState:
    """Keys, creation dates and flags of every bronze row at one Delta version."""

    version: int
    schema: pa.Schema
    rows: pa.Table
    watermark: dt.datetime | None
    dataset: pds.Dataset
    key_columns: tuple[str, ...]
    created_column: str | None
    modified_column: str | None = None

    @property
    def active(self) -> pa.BooleanArray:
        """Return per row whether it is neither deleted nor purged."""
        flags = pc.or_(self.rows.column(IS_DELETED), self.rows.column(IS_PURGED))
        return pc.invert(flags).combine_chunks()

    def counts(self) -> dict[str, int]:
        """Return total, active, deleted and purged row counts."""
        return flag_counts(self.rows)


def read_state(
    table: DeltaTable,
    key_columns: Sequence[str],
    created_column: str | None,
    modified_column: str | None,
    sink: Callable[[pa.Table], None] | None = None,
    scope: StateScope | None = None,
    key_hash: bool = False,
) -> BronzeState:
    """Read keys, creation dates, flags and the modified watermark of every row.

    With `sink`, each file's rows go to it instead of `rows` (which is then empty), so a
    caller can spill a state larger than memory. A `scope` reads only some partitions' files
    and adds columns a table kind needs. With `key_hash`, each row also carries its key's
    hash (`KEY_HASH`), computed while the file is read (the key checksums use it).
    """
    scope = scope or StateScope()
    dataset = table.to_pyarrow_dataset()
    names = set(dataset.schema.names)
    wanted = [*key_columns, *(c for c in scope.columns if c in names)]
    if created_column and created_column in names:
        wanted.append(created_column)
    if modified_column and modified_column in names:
        # Kept so that re-extracted rows whose modified value bronze already holds are skipped.
        wanted.append(modified_column)
    wanted += [c for c in (IS_DELETED, IS_PURGED) if c in names]
    wanted = list(dict.fromkeys(wanted))
    track = modified_column if modified_column in names else None

    def read(item: tuple[int, pds.Fragment]) -> tuple[pa.Table, dt.datetime | None]:
        index, fragment = item
        part = fragment.to_table(columns=wanted, schema=dataset.schema, use_threads=False)
        top = pc.max(as_timestamps(part.column(track))).as_py() if track else None
        part = part.append_column(FRAGMENT, pa.repeat(pa.scalar(index, pa.int32()), part.num_rows))
        part = part.append_column(ROW, pa.array(np.arange(part.num_rows, dtype=np.int32)))
        if key_hash:
            part = part.append_column(KEY_HASH, pa.array(hash_keys(part, key_columns)))
        return part, top

    # Files are read in parallel (Arrow releases the GIL), a window at a time so that a sink
    # never has more than `workers` files waiting; results keep fragment order.
    workers = min(8, os.cpu_count() or 2)
    fragments = [f for f in enumerate(dataset.get_fragments()) if scope.includes(f[1])]
    parts: list[pa.Table] = []
    newest: list[dt.datetime] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(fragments), workers):
            for part, top in pool.map(read, fragments[start : start + workers]):
                if top is not None:
                    newest.append(top)
                if sink is None:
                    parts.append(part)
                else:
                    sink(fill_flags(part))
    schema = (
        pa.schema([dataset.schema.field(c) for c in wanted])
        .append(pa.field(FRAGMENT, pa.int32()))
        .append(pa.field(ROW, pa.int32()))
    )
    if key_hash:
        schema = schema.append(pa.field(KEY_HASH, pa.int64()))
    rows = pa.concat_tables(parts) if parts else schema.empty_table()
    rows = fill_flags(rows)
    return BronzeState(
        version=table.version(),
        schema=dataset.schema,
        rows=rows,
        watermark=max(newest) if newest else None,
        dataset=dataset,
        key_columns=tuple(key_columns),
        created_column=created_column if created_column in names else None,
        modified_column=modified_column if modified_column in names else None,
    )


def active_mask(rows: pa.Table) -> np.ndarray:
    """Return per state row (flags filled) whether it is neither deleted nor purged."""
    flags = pc.or_(rows.column(IS_DELETED), rows.column(IS_PURGED))
    return ~flags.to_numpy()


def fill_flags(rows: pa.Table) -> pa.Table:
    """Return `rows` with IsDeleted/IsPurged present and nulls read as False."""
    # Tables that predate the tracking columns (or rows written before they were added)
    # carry nulls: such rows are live.
    for flag in (IS_DELETED, IS_PURGED):
        if flag in rows.column_names:
            filled = pc.fill_null(rows.column(flag), False)
            rows = rows.set_column(rows.schema.get_field_index(flag), flag, filled)
        else:
            rows = rows.append_column(flag, pa.repeat(False, rows.num_rows))
    return rows


def count_flags(table: DeltaTable, scope: StateScope | None = None) -> dict[str, int]:
    """Return total, active, deleted and purged counts of a bronze table version.

    With a `scope`, only the rows of its partitions count.
    """
    dataset = table.to_pyarrow_dataset()
    if scope is not None and scope.values is not None:
        fragments = [f for f in dataset.get_fragments() if scope.includes(f)]
        dataset = pds.FileSystemDataset(
            fragments, dataset.schema, dataset.format, dataset.filesystem
        )
    present = [c for c in (IS_DELETED, IS_PURGED) if c in dataset.schema.names]
    if present:
        data = dataset.to_table(columns=present)
    else:
        data = pa.table({"_": pa.nulls(dataset.count_rows())})
    return flag_counts(fill_flags(data))


def flag_counts(rows: pa.Table) -> dict[str, int]:
    """Return total, active, deleted and purged counts of rows carrying filled flags."""
    deleted = pc.sum(rows.column(IS_DELETED)).as_py() or 0
    purged = pc.sum(rows.column(IS_PURGED)).as_py() or 0
    total = rows.num_rows
    return {
        "total": total,
        "active": total - deleted - purged,
        "deleted": deleted,
        "purged": purged,
    }
