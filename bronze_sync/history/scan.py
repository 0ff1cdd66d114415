"""Read the data files one bronze version touched, and find the keys whose rows differ.

Files are streamed one at a time a batch at a time (no scanner read-ahead), and the row
fingerprints of large versions go to key-hash partition files in a temporary folder, so
memory follows one batch plus one partition, not the table.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.parquet as pq

from bronze_sync.bronze.data_files import fragment_partition
from bronze_sync.diff.spill import KeySpill, partitions_for
from bronze_sync.errors import BronzeError
from bronze_sync.history.images import conform_image
from bronze_sync.rows.values import frame

BATCH_ROWS = 262_144
READ_BUFFER = 2**20
FINGERPRINT_BUDGET_MB = 512
_H1, _H2, _ROW = "__h1", "__h2", "__row"
_SEEDS = (0x5EED_0001, 0x5EED_0002)


@dataclass(frozen=True)
class FileSet:
    """Some data files of one version of a Delta table, with their partition values."""

    schema: pa.Schema
    fragments: list[pds.ParquetFileFragment]
    filesystem: pa.fs.FileSystem
    partition_columns: tuple[str, ...]

    @classmethod
    def of(
        cls,
        dataset: pds.Dataset,
        fragments: Sequence[pds.Fragment],
        partition_columns: Sequence[str],
    ) -> FileSet:
        """Return the given fragments of `dataset` as a file set."""
        return cls(dataset.schema, list(fragments), dataset.filesystem, tuple(partition_columns))

    def rows(self) -> int:
        """Return how many rows the files hold (from their footers)."""
        return sum(f.count_rows() for f in self.fragments)

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """Yield the files' rows a batch at a time, partition columns filled in."""
        for fragment in self.fragments:
            values = fragment_partition(fragment, self.partition_columns)
            stored = [c for c in columns if c not in values] if columns is not None else None
            with self.filesystem.open_input_file(fragment.path) as handle:
                # Buffered column-chunk reads: a 1M-row row group is not read whole at once.
                source = pq.ParquetFile(handle, pre_buffer=False, buffer_size=READ_BUFFER)
                for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=stored):
                    if batch.num_rows:
                        yield _with_values(pa.Table.from_batches([batch]), values, self.schema)


def _with_values(rows: pa.Table, values: dict[str, object], schema: pa.Schema) -> pa.Table:
    for name, value in values.items():
        rows = rows.append_column(name, pa.array([value] * rows.num_rows, schema.field(name).type))
    return rows


@dataclass
class KeyDiff:
    """The keys of one version's touched files: new, gone, and present with other values."""

    new_only: pl.DataFrame
    old_only: pl.DataFrame
    differ: pl.DataFrame


def key_diff(old: FileSet, new: FileSet, image: pa.Schema, keys: Sequence[str]) -> KeyDiff:
    """Return which keys the two file sets hold differently (by row fingerprints)."""
    parts = partitions_for(old.rows() + new.rows(), FINGERPRINT_BUDGET_MB)
    if parts == 1:
        return _compare(_fingerprints(old, image, keys), _fingerprints(new, image, keys), keys)
    with tempfile.TemporaryDirectory(prefix="bronze_sync_history_") as folder:
        spills = []
        for name, files in (("old", old), ("new", new)):
            spill = KeySpill(Path(folder), name, keys, parts)
            for part in _fingerprint_batches(files, image, keys):
                spill.add(part)
            spill.close(_fingerprint_schema(image, keys))
            spills.append(spill)
        found = [
            _compare(frame(spills[0].part(p)), frame(spills[1].part(p)), keys) for p in range(parts)
        ]
    return KeyDiff(
        *(pl.concat([getattr(f, n) for f in found], how="vertical_relaxed") for n in
          ("new_only", "old_only", "differ"))
    )  # fmt: skip


def _compare(old: pl.DataFrame, new: pl.DataFrame, keys: Sequence[str]) -> KeyDiff:
    joined = old.join(new, on=list(keys), how="full", coalesce=True, suffix="_new")
    both = pl.col(_H1).is_not_null() & pl.col(f"{_H1}_new").is_not_null()
    differs = (pl.col(_H1) != pl.col(f"{_H1}_new")) | (pl.col(_H2) != pl.col(f"{_H2}_new"))
    return KeyDiff(
        new_only=joined.filter(pl.col(_H1).is_null()).select(keys),
        old_only=joined.filter(pl.col(f"{_H1}_new").is_null()).select(keys),
        differ=joined.filter(both & differs).select(keys),
    )


def _fingerprint_schema(image: pa.Schema, keys: Sequence[str]) -> pa.Schema:
    return pa.schema([*(image.field(k) for k in keys), (_H1, pa.uint64()), (_H2, pa.uint64())])


def _fingerprint_batches(
    files: FileSet, image: pa.Schema, keys: Sequence[str]
) -> Iterator[pa.Table]:
    """Yield the key columns and two 64-bit hashes of the image of every row."""
    columns = [n for n in image.names if n in files.schema.names]
    schema = _fingerprint_schema(image, keys)
    for batch in files.batches(columns):
        rows = frame(conform_image(batch, image))
        hashed = rows.select(keys).with_columns(
            rows.hash_rows(seed=_SEEDS[0]).alias(_H1), rows.hash_rows(seed=_SEEDS[1]).alias(_H2)
        )
        table = hashed.to_arrow()
        yield pa.Table.from_arrays(
            [table.column(f.name).cast(f.type) for f in schema], schema=schema
        )


def _fingerprints(files: FileSet, image: pa.Schema, keys: Sequence[str]) -> pl.DataFrame:
    parts = [frame(t) for t in _fingerprint_batches(files, image, keys)]
    if not parts:
        return frame(_fingerprint_schema(image, keys).empty_table())
    return pl.concat(parts, how="vertical_relaxed")


def images(files: FileSet, wanted: pl.DataFrame, keys: Sequence[str]) -> pa.Table:
    """Return the rows of `files` whose keys `wanted` holds, sorted by key."""
    parts = []
    for rows in files.batches():
        # Only the key columns go through polars; the rows are taken in Arrow.
        found = frame(rows.select(list(keys))).with_row_index(_ROW)
        hit = found.join(wanted, on=list(keys), how="semi").get_column(_ROW)
        if len(hit):
            parts.append(rows.take(hit.to_arrow()))
    if not parts:
        return files.schema.empty_table()
    table = pa.concat_tables(parts, promote_options="permissive").sort_by(
        [(k, "ascending") for k in keys]
    )
    if table.num_rows != wanted.height:
        raise BronzeError(
            f"{table.num_rows} rows hold {wanted.height} changed keys: the key is not unique"
        )
    return table
