"""The data files a bronze writer adds: names, partition folders, add actions, clean-up.

A partitioned table (kind partitioned) keeps each partition value's rows in a folder
`column=value` and leaves the partition column out of the files, as Delta writers do; the
value travels in the add action's `partitionValues`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.transaction import AddAction

from bronze_sync.bronze.file_stats import file_stats

Partition = Mapping[str, Any]


def partition_text(value: Any) -> str:
    """Return a partition value as Delta writes it (`20260101`, `2026-01-31`, text as is)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def partition_dir(partition: Partition) -> str:
    """Return the folder of a partition (`COBID=20260101/`), or '' for an unpartitioned table."""
    return "".join(
        f"{name}={urllib.parse.quote(partition_text(value), safe='')}/"
        for name, value in partition.items()
    )


def fragment_partition(fragment: pds.Fragment, columns: Sequence[str]) -> dict[str, Any]:
    """Return the partition values (typed) of a data file of a table partitioned by `columns`."""
    if not columns:
        return {}
    keys = pds.get_partition_keys(fragment.partition_expression)
    return {c: keys.get(c) for c in columns}


def held_values(delta: DeltaTable, column: str) -> list[Any]:
    """Return the distinct partition values the table's current files hold, ascending."""
    actions = pa.table(delta.get_add_actions(flatten=True))
    name = f"partition.{column}"
    if not actions.num_rows or name not in actions.column_names:
        return []
    return sorted(v for v in pc.unique(actions.column(name)).to_pylist() if v is not None)


def split_by_partition(
    rows: pa.Table, columns: Sequence[str]
) -> Iterator[tuple[Partition, pa.Table]]:
    """Yield (partition values, that partition's rows) of `rows` (one pair when unpartitioned)."""
    if not columns:
        yield {}, rows
        return
    groups = rows.select(list(columns)).group_by(list(columns)).aggregate([])
    for values in groups.to_pylist():
        mask = None
        for name, value in values.items():
            match = pc.equal(rows.column(name), pa.scalar(value, rows.schema.field(name).type))
            mask = match if mask is None else pc.and_(mask, match)
        yield values, rows.filter(mask)


class DataFiles:
    """The data files one writer adds to a table, named after its lease token."""

    def __init__(self, dataset: pds.Dataset, token: str, partition_columns: Sequence[str]) -> None:
        self.dataset = dataset
        self.filesystem = dataset.filesystem
        self.token = token
        self.partition_columns = list(partition_columns)
        self.written: list[str] = []

    def new_path(self, folder: str = "") -> str:
        """Return a fresh data file path (the token tells a dead writer's leftovers apart)."""
        middle = f"{self.token}-{uuid.uuid4()}" if self.token else str(uuid.uuid4())
        path = f"{folder}part-00000-{middle}-c000.snappy.parquet"
        self.written.append(path)
        return path

    def stored(self, rows: pa.Table) -> pa.Table:
        """Return `rows` as a data file stores them (partition columns left out)."""
        kept = [c for c in rows.column_names if c not in self.partition_columns]
        return rows.select(kept) if len(kept) != rows.num_columns else rows

    def write(self, rows: pa.Table, partition: Partition) -> AddAction:
        """Write one data file of `rows` (all in `partition`) and return its add action."""
        data = self.stored(rows)
        path = self.new_path(partition_dir(partition))
        if "/" in path:
            self.filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with self.filesystem.open_output_stream(path) as sink:
            pq.write_table(data, sink, compression="snappy")
        return self.add_action(path, file_stats(data), partition)

    def write_all(self, rows: pa.Table) -> list[AddAction]:
        """Write `rows` as one data file per partition they fall in."""
        return [
            self.write(part, values)
            for values, part in split_by_partition(rows, self.partition_columns)
        ]

    def add_action(self, path: str, stats: str, partition: Partition) -> AddAction:
        """Return the add action of a file written into the table folder."""
        return AddAction(
            path=path,
            size=self.filesystem.get_file_info(path).size,
            partition_values={k: partition_text(v) for k, v in partition.items()},
            modification_time=int(time.time() * 1000),
            data_change=True,
            stats=stats,
        )

    def drop(self, path: str) -> None:
        """Remove a file this writer wrote and no longer needs."""
        self.filesystem.delete_file(path)
        self.written.remove(path)

    def discard(self) -> None:
        """Remove every file this writer wrote (it will not commit them)."""
        for path in list(self.written):
            with contextlib.suppress(OSError):  # never written, or already gone
                self.drop(path)


def with_partition(rows: pa.Table, partition: dict[str, Any]) -> pa.Table:
    """Return a file's rows with its partition columns (files leave them out) filled in."""
    for name, value in partition.items():
        if name not in rows.column_names:
            rows = rows.append_column(name, pa.array([value] * rows.num_rows))
    return rows


def file_sizes(delta: DeltaTable) -> dict[str, int]:
    """Return the size in bytes of each data file of the table's version, by path."""
    actions = pa.table(delta.get_add_actions(flatten=True))
    return dict(
        zip(
            actions.column("path").to_pylist(),
            actions.column("size_bytes").to_pylist(),
            strict=True,
        )
    )
