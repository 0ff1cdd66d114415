"""Derive a bronze version's changed rows from the Delta log alone (two versions' files).

Used where no live capture exists: repair after a crash between the bronze commit and the
history append, backfill of tables synced before history existed, rollbacks and commits
other tools made. Only the files one version removed and added are read: rows of untouched
files are the same in both versions. Pass one fingerprints every row of those files (key
columns plus two 64-bit hashes of the row image, in key partitions when large); pass two
reads the images of the keys whose fingerprints differ (`history.scan`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from bronze_sync.bronze.commit import commit_fields
from bronze_sync.history.columns import image_schema
from bronze_sync.history.images import history_rows, removed_rows
from bronze_sync.history.scan import FileSet, images, key_diff
from bronze_sync.pii.migration_log import PII_MIGRATE, migrations_after

# Commits that never change a row: their files move, their values do not.
NO_ROW_CHANGES = frozenset({"OPTIMIZE", "VACUUM START", "VACUUM END", "SET TBLPROPERTIES"})


@dataclass
class VersionChanges:
    """The rows one bronze version changed, with who made the commit and when."""

    version: int
    changed_at: dt.datetime
    run_id: str | None
    partition_key: str | None
    bronze: pa.Schema
    parts: Iterator[pa.Table]


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
    if info.get("operation") in NO_ROW_CHANGES or commit_fields(info).get("mode") == PII_MIGRATE:
        return changes  # a PII migration rewrites values, never a row's source change
    partition_columns = after.metadata().partition_columns
    if version == 0:
        changes.parts = _inserted(
            FileSet.of(dataset, dataset.get_fragments(), partition_columns), keys
        )
        return changes
    prior = DeltaTable(uri, version=version - 1, storage_options=options)
    before = prior.to_pyarrow_dataset()
    old_paths = {f.path for f in before.get_fragments()}
    new_paths = {f.path for f in dataset.get_fragments()}
    added = [f for f in dataset.get_fragments() if f.path not in old_paths]
    removed = [f for f in before.get_fragments() if f.path not in new_paths]
    new = FileSet.of(dataset, added, partition_columns)
    if not removed:
        changes.parts = _inserted(new, keys, is_rollback(info))
    elif added or removed:
        old = FileSet.of(before, removed, prior.metadata().partition_columns)
        changes.parts = _diffed(old, new, keys, is_rollback(info))
    return changes


def _inserted(files: FileSet, keys: Sequence[str], rollback: bool = False) -> Iterator[pa.Table]:
    """Yield history rows for every row of `files` (rows new to bronze)."""
    for rows in files.batches():
        yield history_rows(None, rows, files.schema, keys, rollback)


def _diffed(old: FileSet, new: FileSet, keys: Sequence[str], rollback: bool) -> Iterator[pa.Table]:
    """Yield history rows of the keys whose images differ between removed and added files."""
    found = key_diff(old, new, image_schema(new.schema, keys), keys)
    # Each step scans whole files a batch at a time: hand the freed batches back to the
    # system between steps, or their pages stay resident on top of the next step's.
    _release()
    if found.new_only.height:
        yield history_rows(None, images(new, found.new_only, keys), new.schema, keys, rollback)
        _release()
    if found.differ.height:
        later = images(new, found.differ, keys)
        _release()
        earlier = images(old, found.differ, keys)
        _release()
        yield history_rows(earlier, later, new.schema, keys, rollback)
    if found.old_only.height:
        yield removed_rows(images(old, found.old_only, keys), new.schema, keys)


def _release() -> None:
    """Return the Arrow memory pool's free pages to the system."""
    pa.default_memory_pool().release_unused()


def oldest_rebuildable(uri: str, options: dict[str, str] | None, end: int) -> int:
    """Return the oldest version v such that every version v..end can be rebuilt.

    Versions before a PII migration never are: their files hold values under the old policy.
    """
    migrated = migrations_after(DeltaTable(uri, storage_options=options), None)
    floor = migrated[-1].version if migrated else 0
    oldest = end + 1
    for version in range(end, floor - 1, -1):
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
