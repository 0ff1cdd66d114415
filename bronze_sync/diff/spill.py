"""Split key-bearing rows by key hash into partition files, so a diff holds one part at a time.

Every key lands in the partition given by the top bits of its 64-bit hash, the same hash on
both sides of a comparison, so a key's bronze row, its source key and its extracted row always
meet in the same partition and partitions can be planned independently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from bronze_sync.rows.keys import duplicate_keys, refuse_duplicates
from bronze_sync.rows.keyset import SLICE, key_hashes

# Measured bytes of diff memory per bronze row (bronze state + source key + index + probes,
# 36-character keys): the daily sync at 10M rows peaked at 3.5 GB unpartitioned.
DIFF_BYTES_PER_ROW = 300
# The diff may use this share of the memory budget; the rest is for the commit and the runtime.
DIFF_SHARE = 0.4
# Each partition keeps one file open while a spill is written (two spills at once, within
# the usual limit of 1,024 open files).
MAX_PARTITIONS = 256


def rows_in_memory(budget_mb: int) -> int:
    """Return how many keys one in-memory diff partition may hold within `budget_mb`."""
    return int(budget_mb * 2**20 * DIFF_SHARE / DIFF_BYTES_PER_ROW)


def partitions_for(rows: int, budget_mb: int) -> int:
    """Return how many key partitions keep a diff of `rows` rows within `budget_mb` (power of 2)."""
    wanted = math.ceil(rows / max(1, rows_in_memory(budget_mb)))
    return 1 if wanted <= 1 else min(MAX_PARTITIONS, 1 << (wanted - 1).bit_length())


def partition_of(keys: pa.Table, key_cols: Sequence[str], parts: int) -> np.ndarray:
    """Return each row's partition: the top bits of its key hash."""
    if parts == 1:
        return np.zeros(keys.num_rows, dtype=np.int64)
    bits = np.uint64(64 - (parts - 1).bit_length())
    return (key_hashes(keys, key_cols) >> bits).astype(np.int64)


def take_partition(rows: pa.Table, where: np.ndarray, part: int) -> pa.Table:
    """Return the rows whose partition (`where`) is `part`."""
    return rows.take(pa.array(np.flatnonzero(where == part)))


class KeySpill:
    """Rows split by key partition into Arrow IPC files, read back memory-mapped."""

    def __init__(self, folder: Path, name: str, key_cols: Sequence[str], parts: int) -> None:
        self.key_cols = list(key_cols)
        self.parts = parts
        self.rows = 0
        self._paths = [folder / f"{name}.part{p:04d}.arrow" for p in range(parts)]
        self._sinks: list[pa.NativeFile] = []
        self._writers: list[pa.ipc.RecordBatchFileWriter] = []

    def add(self, rows: pa.Table) -> None:
        """Append `rows` to their partitions' files."""
        if not self._writers:
            self._open(rows.schema)
        for start in range(0, rows.num_rows, SLICE):
            chunk = rows.slice(start, SLICE)
            where = partition_of(chunk, self.key_cols, self.parts)
            # One sort groups each partition's rows; slices of the sorted chunk are the parts;
            # uint16 makes numpy's stable argsort a radix sort (several times faster on 1M rows).
            order = np.argsort(where.astype(np.uint16), kind="stable")
            ends = np.cumsum(np.bincount(where, minlength=self.parts))
            grouped = chunk.take(pa.array(order)).combine_chunks()
            begin = 0
            for part, end in enumerate(ends):
                if end > begin:
                    for batch in grouped.slice(begin, int(end) - begin).to_batches():
                        self._writers[part].write_batch(batch)
                begin = int(end)
        self.rows += rows.num_rows

    def close(self, schema: pa.Schema) -> None:
        """Finish every partition file (`schema` types the files of an empty spill)."""
        if not self._writers:
            self._open(schema)
        for writer, sink in zip(self._writers, self._sinks, strict=True):
            writer.close()
            sink.close()

    def part(self, index: int) -> pa.Table:
        """Return partition `index` as a memory-mapped table."""
        source = pa.memory_map(str(self._paths[index]), "r")
        return pa.ipc.open_file(source).read_all()

    def _open(self, schema: pa.Schema) -> None:
        self._sinks = [pa.OSFile(str(path), "wb") for path in self._paths]
        self._writers = [pa.ipc.new_file(sink, schema) for sink in self._sinks]

    def check_unique(self, table_name: str, what: str) -> None:
        """Raise SourceDataError when a key repeats (equal keys always share a partition)."""
        repeats = [
            duplicate_keys(self.part(p), self.key_cols).select(self.key_cols)
            for p in range(self.parts)
        ]
        refuse_duplicates(pa.concat_tables(repeats), self.key_cols, table_name, what)


class KeyCollector:
    """Keys seen while streaming rows, kept in memory until they outgrow it, then spilled."""

    def __init__(self, folder: Path, key_cols: Sequence[str], memory_rows: int, parts: int) -> None:
        self.folder = folder
        self.key_cols = list(key_cols)
        self.memory_rows = memory_rows
        self.parts = parts
        self._kept: list[pa.Table] = []
        self._held = 0
        self._spill: KeySpill | None = None

    def add(self, keys: pa.Table) -> None:
        """Remember `keys` (spilling everything once more than `memory_rows` are held)."""
        if self._spill is not None:
            self._spill.add(keys)
            return
        self._kept.append(detached(keys))
        self._held += keys.num_rows
        if self._held > self.memory_rows:
            self._spill = KeySpill(self.folder, "seen_keys", self.key_cols, self.parts)
            for kept in self._kept:
                self._spill.add(kept)
            self._kept = []

    @property
    def spilled(self) -> bool:
        """Return whether the keys went to partition files."""
        return self._spill is not None

    def check_unique(self, schema: pa.Schema, table_name: str, what: str) -> None:
        """Raise SourceDataError when a key was seen more than once."""
        if self._spill is not None:
            self._spill.close(schema)
            self._spill.check_unique(table_name, what)
            return
        kept = pa.concat_tables(self._kept) if self._kept else schema.empty_table()
        refuse_duplicates(duplicate_keys(kept, self.key_cols), self.key_cols, table_name, what)


def detached(keys: pa.Table) -> pa.Table:
    """Return a copy of `keys` in its own (system) allocations.

    Kept key columns would otherwise pin the Arrow pool's pages that the batch's other
    columns lived in: at 10M rows that fragmentation cost 1.2 GB of peak RSS (see
    docs/performance.md); copied out, the kept keys cost only their own size.
    """
    pool = pa.system_memory_pool()
    columns = [pa.concat_arrays(column.chunks, memory_pool=pool) for column in keys.columns]
    return pa.Table.from_arrays(columns, schema=keys.schema)
