"""Derive a bronze version's changed rows from the Delta log alone (two versions' files).

Used where no live capture exists: repair after a crash between the bronze commit and the
history append, backfill of tables synced before history existed, rollbacks and commits
other tools made. Only the files one version removed and added are read: rows of untouched
files are the same in both versions. Pass one fingerprints every row of those files (key
columns plus two 64-bit hashes of the row image); pass two reads the images of the keys
whose fingerprints differ, so memory follows the changed rows, not the table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from bronze_sync.bronze.commit import commit_fields
from bronze_sync.errors import BronzeError
from bronze_sync.history.columns import image_schema
from bronze_sync.history.images import conform_image, history_rows, removed_rows
from bronze_sync.rows.values import frame

# Commits that never change a row: their files move, their values do not.
NO_ROW_CHANGES = frozenset({"OPTIMIZE", "VACUUM START", "VACUUM END", "SET TBLPROPERTIES"})
_H1, _H2, _ROW = "__h1", "__h2", "__row"
_SEEDS = (0x5EED_0001, 0x5EED_0002)
BATCH_ROWS = 262_144


@dataclass
class VersionChanges:
    """The rows one bronze version changed, with who made the commit and when."""

    version: int
    changed_at: dt.datetime
    run_id: str | None
    partition_key: str | None
    bronze: pa.Schema
    parts: Iterator[pa.Table]


def commit_info(delta: DeltaTable, version: int) -> dict[str, Any]:
    """Return the Delta history entry of `version` (its commitInfo)."""
    newest = delta.version()
    for info in delta.history(newest - version + 1):
        if info.get("version") == version:
            return dict(info)
    raise BronzeError(f"the Delta log has no entry for version {version} of {delta.table_uri}")


def version_identity(info: dict[str, Any]) -> tuple[dt.datetime, str | None, str | None]:
    """Return when a commit was made, by which run and for which sync batch."""
    fields = commit_fields(info)
    when = dt.datetime.fromtimestamp(int(info.get("timestamp", 0)) / 1000, dt.UTC)
    run = fields.get("run_id")
    key = fields.get("partition_key")
    return when, str(run) if run else None, str(key) if key else None


def is_rollback(info: dict[str, Any]) -> bool:
    """Return True for a commit that restored an older version."""
    return commit_fields(info).get("mode") == "rollback" or info.get("operation") == "RESTORE"


def derive_version(
    uri: str,
    options: dict[str, str] | None,
    keys: Sequence[str],
    version: int,
    info: dict[str, Any],
) -> VersionChanges:
    """Return the rows bronze version `version` changed, derived from versions N-1 and N."""
    after = DeltaTable(uri, version=version, storage_options=options)
    dataset = after.to_pyarrow_dataset()
    when, run, key = version_identity(info)
    changes = VersionChanges(version, when, run, key, dataset.schema, iter(()))
    if info.get("operation") in NO_ROW_CHANGES:
        return changes
    if version == 0:
        changes.parts = _inserted(dataset, dataset.get_fragments(), keys)
        return changes
    before = DeltaTable(uri, version=version - 1, storage_options=options).to_pyarrow_dataset()
    old_paths = {f.path for f in before.get_fragments()}
    new_paths = {f.path for f in dataset.get_fragments()}
    added = [f for f in dataset.get_fragments() if f.path not in old_paths]
    removed = [f for f in before.get_fragments() if f.path not in new_paths]
    if not removed:
        changes.parts = _inserted(dataset, added, keys, is_rollback(info))
    elif added or removed:
        changes.parts = _diffed(before, removed, dataset, added, keys, is_rollback(info))
    return changes


def _subset(dataset: pds.Dataset, fragments: Sequence[pds.Fragment]) -> pds.Dataset:
    return pds.FileSystemDataset(
        list(fragments),
        schema=dataset.schema,
        format=dataset.format,
        filesystem=dataset.filesystem,
    )


def _inserted(
    dataset: pds.Dataset, fragments: Any, keys: Sequence[str], rollback: bool = False
) -> Iterator[pa.Table]:
    """Yield history rows for every row of `fragments` (rows new to bronze)."""
    for batch in _subset(dataset, list(fragments)).to_batches(batch_size=BATCH_ROWS):
        if batch.num_rows:
            yield history_rows(None, pa.Table.from_batches([batch]), dataset.schema, keys, rollback)


def _diffed(
    before: pds.Dataset,
    removed: list[pds.Fragment],
    after: pds.Dataset,
    added: list[pds.Fragment],
    keys: Sequence[str],
    rollback: bool,
) -> Iterator[pa.Table]:
    """Yield history rows of the keys whose images differ between removed and added files."""
    schema = image_schema(after.schema, keys)
    old_set, new_set = _subset(before, removed), _subset(after, added)
    old, new = _fingerprints(old_set, schema, keys), _fingerprints(new_set, schema, keys)
    joined = old.join(new, on=list(keys), how="full", coalesce=True, suffix="_new")
    new_only = joined.filter(pl.col(_H1).is_null()).select(keys)
    old_only = joined.filter(pl.col(f"{_H1}_new").is_null()).select(keys)
    differ = joined.filter(
        pl.col(_H1).is_not_null()
        & pl.col(f"{_H1}_new").is_not_null()
        & ((pl.col(_H1) != pl.col(f"{_H1}_new")) | (pl.col(_H2) != pl.col(f"{_H2}_new")))
    ).select(keys)
    del old, new, joined
    if new_only.height:
        yield history_rows(None, _images(new_set, new_only, keys), after.schema, keys, rollback)
    if differ.height:
        later = _images(new_set, differ, keys)
        earlier = _images(old_set, differ, keys)
        yield history_rows(earlier, later, after.schema, keys, rollback)
    if old_only.height:
        yield removed_rows(_images(old_set, old_only, keys), after.schema, keys)


def _fingerprints(dataset: pds.Dataset, schema: pa.Schema, keys: Sequence[str]) -> pl.DataFrame:
    """Return the key columns and two row hashes of every row in `dataset`."""
    columns = [n for n in schema.names if n in dataset.schema.names]
    frames = []
    for batch in dataset.to_batches(columns=columns, batch_size=BATCH_ROWS):
        rows = frame(conform_image(pa.Table.from_batches([batch]), schema))
        frames.append(
            rows.select(keys).with_columns(
                rows.hash_rows(seed=_SEEDS[0]).alias(_H1),
                rows.hash_rows(seed=_SEEDS[1]).alias(_H2),
            )
        )
    if not frames:
        empty = frame(schema.empty_table()).select(keys)
        hashes = [pl.Series(name, [], pl.UInt64) for name in (_H1, _H2)]
        return empty.with_columns(hashes)
    return pl.concat(frames, how="vertical_relaxed")


def _images(dataset: pds.Dataset, wanted: pl.DataFrame, keys: Sequence[str]) -> pa.Table:
    """Return the rows of `dataset` whose keys `wanted` holds, sorted by key."""
    parts = []
    for batch in dataset.to_batches(batch_size=BATCH_ROWS):
        rows = pa.Table.from_batches([batch])
        # Only the key columns go through polars; the rows are taken in Arrow.
        found = frame(rows.select(list(keys))).with_row_index(_ROW)
        hit = found.join(wanted, on=list(keys), how="semi").get_column(_ROW)
        if len(hit):
            parts.append(rows.take(hit.to_arrow()))
    if not parts:
        return dataset.schema.empty_table()
    table = pa.concat_tables(parts).sort_by([(k, "ascending") for k in keys])
    if table.num_rows != wanted.height:
        raise BronzeError(
            f"{table.num_rows} rows hold {wanted.height} changed keys: the key is not unique"
        )
    return table


def oldest_rebuildable(uri: str, options: dict[str, str] | None, end: int) -> int:
    """Return the oldest version v such that every version v..end can be rebuilt."""
    oldest = end + 1
    for version in range(end, -1, -1):
        if not rebuildable(uri, options, version):
            break
        oldest = version
    return oldest


def rebuildable(uri: str, options: dict[str, str] | None, version: int) -> bool:
    """Return True when version `version` and the one before it can still be read."""
    try:
        after = DeltaTable(uri, version=version, storage_options=options).to_pyarrow_dataset()
        paths = {f.path for f in after.get_fragments()}
        if version > 0:
            before = DeltaTable(uri, version=version - 1, storage_options=options)
            old = before.to_pyarrow_dataset()
            paths |= {f.path for f in old.get_fragments()}
    except (DeltaError, OSError):
        return False
    infos = after.filesystem.get_file_info(sorted(paths))
    return all(info.type != pafs.FileType.NotFound for info in infos)
