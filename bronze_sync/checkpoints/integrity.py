"""Is a pinned Delta version still restorable? Its log must load, hold the commit the checkpoint
recorded, and its files must exist."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError
from deltalake.fs import DeltaStorageHandler

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints.commits import CommitIdentity, commit_identity, rewritten_reason
from bronze_sync.checkpoints.model import Checkpoint

SAMPLE = 3


@dataclass(frozen=True)
class Restorability:
    """Whether one table can be restored to one version, and why not."""

    table: str
    version: int
    restorable: bool
    reason: str | None = None
    missing_files: int = 0
    rewritten: bool = False  # the version number now names another commit

    def problem(self) -> str:
        """Return why the table cannot be restored, naming the table."""
        if self.rewritten:  # the rewritten reason (a fixed wording) does not name the table
            return f"{self.table}: {self.reason}"
        return self.reason or f"{self.table}@{self.version}"


def check_restorable(
    store: BronzeStore, table: str, version: int, recorded: CommitIdentity | None = None
) -> Restorability:
    """Return whether bronze table `table` can still be restored to `version`.

    `recorded`: the commit the checkpoint pinned (None for checkpoints older than
    TableCommits: the comparison is skipped).
    """
    uri = store.table_uri(table)
    if not store.exists(uri):
        return Restorability(table, version, False, f"bronze table {table} does not exist")
    try:
        pinned = DeltaTable(uri, version=version, storage_options=store.options())
    except (DeltaError, TableNotFoundError, OSError) as exc:
        return Restorability(
            table,
            version,
            False,
            f"version {version} of {table} can no longer be loaded (its log entries were "
            f"cleaned up): {str(exc).splitlines()[0]}",
        )
    found = commit_identity(store, table, version) if recorded is not None else None
    if recorded is not None and found is not None and found != recorded:
        reason = rewritten_reason(version, recorded, found)
        return Restorability(table, version, False, reason, rewritten=True)
    paths = pa.table(pinned.get_add_actions(flatten=True)).column("path").to_pylist()
    filesystem = pafs.PyFileSystem(DeltaStorageHandler(uri, store.options()))
    infos = filesystem.get_file_info(paths) if paths else []
    missing = [info.path for info in infos if info.type == pafs.FileType.NotFound]
    if missing:
        sample = ", ".join(missing[:SAMPLE])
        return Restorability(
            table,
            version,
            False,
            f"{len(missing)} data file(s) of version {version} of {table} are gone "
            f"(vacuumed?): {sample}",
            missing_files=len(missing),
        )
    return Restorability(table, version, True)


def check_checkpoint(store: BronzeStore, checkpoint: Checkpoint) -> list[Restorability]:
    """Return the restorability of every table a checkpoint pins."""
    return [
        check_restorable(store, t, v, checkpoint.table_commits.get(t))
        for t, v in sorted(checkpoint.table_versions.items())
    ]
