"""Measure what a Delta table occupies in storage, and record the trend in StorageHistory."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pyarrow.fs as pafs
from deltalake.fs import DeltaStorageHandler

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.metadata.schemas import STORAGE_HISTORY
from bronze_sync.metadata.store import MetadataStore

LOG_DIR = "_delta_log"


@dataclass(frozen=True)
class StoredFile:
    """One file under a table's folder (path relative to the table root)."""

    path: str
    size: int
    mtime: dt.datetime | None


@dataclass(frozen=True)
class Usage:
    """Files and bytes under a table's folder."""

    files: int
    bytes: int


def list_files(store: BronzeStore, uri: str) -> list[StoredFile]:
    """Return every file under the table folder at `uri` (data, log, orphans)."""
    filesystem = pafs.PyFileSystem(DeltaStorageHandler(uri, store.options()))
    infos = filesystem.get_file_info(pafs.FileSelector("", recursive=True, allow_not_found=True))
    return sorted(
        (
            StoredFile(i.path, int(i.size or 0), i.mtime)
            for i in infos
            if i.type == pafs.FileType.File
        ),
        key=lambda f: f.path,
    )


def measure(store: BronzeStore, uri: str) -> Usage:
    """Return the files and bytes under the table folder at `uri`."""
    files = list_files(store, uri)
    return Usage(len(files), sum(f.size for f in files))


@dataclass(frozen=True)
class StorageRecord:
    """One table's storage before and after one maintenance run."""

    table: str
    kind: str  # bronze | metadata
    before: Usage
    after: Usage
    version: int | None
    status: str
    notes: str | None = None

    @property
    def reclaimed(self) -> int:
        """Return the bytes the run freed (negative when the table grew)."""
        return self.before.bytes - self.after.bytes


def append_history(
    meta: MetadataStore, run_id: str, records: list[StorageRecord], now: dt.datetime
) -> None:
    """Append one StorageHistory row per table in one commit."""
    meta.append(
        STORAGE_HISTORY,
        [
            {
                "MeasurementId": str(uuid.uuid4()),
                "PipelineRunId": run_id,
                "MeasuredDate": now,
                "TableName": r.table,
                "TableKind": r.kind,
                "DeltaVersion": r.version,
                "FilesBefore": r.before.files,
                "FilesAfter": r.after.files,
                "BytesBefore": r.before.bytes,
                "BytesAfter": r.after.bytes,
                "BytesReclaimed": r.reclaimed,
                "Status": r.status,
                "Notes": r.notes,
            }
            for r in records
        ],
    )
