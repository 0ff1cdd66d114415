"""Write to bronze Delta tables: create, evolve the schema, and one MERGE per sync."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import CommitProperties, DeltaTable, Field, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.fs import DeltaStorageHandler

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.bronze.tracking import (
    IS_DELETED,
    IS_PURGED,
    LAST_SYNCED,
    SYNC_OPERATION,
    SyncOp,
)
from bronze_sync.errors import BronzeError, CommitConflictError
from bronze_sync.identifiers import quote_delta

COMMIT_CHUNK = 64 * 1024


def commit_properties(metadata: Mapping[str, Any]) -> CommitProperties:
    """Return commit properties carrying bronze_sync's commit metadata."""
    return CommitProperties(custom_metadata={f"bronze_sync.{k}": v for k, v in metadata.items()})


def create_table(
    store: BronzeStore,
    uri: str,
    reader: pa.RecordBatchReader,
    metadata: Mapping[str, Any],
    properties: Mapping[str, str] | None = None,
    partition_by: list[str] | None = None,
) -> DeltaTable:
    """Create the Delta table at `uri` with table `properties` from a stream of rows."""
    store.ensure_root()
    try:
        write_deltalake(
            uri,
            reader,
            mode="error",
            partition_by=partition_by or None,
            configuration=dict(properties) if properties else None,
            storage_options=store.options(),
            commit_properties=commit_properties(metadata),
        )
    except CommitFailedError as exc:
        raise CommitConflictError(f"another writer created {uri} first: {exc}") from None
    except DeltaError as exc:
        if "already exists" in str(exc):
            raise CommitConflictError(f"another writer created {uri} first") from None
        raise
    table = store.open(uri)
    if table is None:
        raise BronzeError(f"table {uri} was written but cannot be opened")
    return table


def add_columns(table: DeltaTable, fields: Sequence[pa.Field]) -> None:
    """Add nullable columns to the table schema (a metadata-only commit)."""
    if fields:
        table.alter.add_columns([Field.from_arrow(pa.field(f.name, f.type, True)) for f in fields])


def backfill_tracking(table: DeltaTable, now: dt.datetime) -> int:
    """Give rows written before the tracking columns existed their live defaults."""
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    try:
        metrics = table.update(
            updates={
                IS_DELETED: "false",
                IS_PURGED: "false",
                LAST_SYNCED: f"CAST('{stamp}' AS TIMESTAMP)",
                SYNC_OPERATION: f"'{SyncOp.INSERT.value}'",
            },
            predicate=f"{quote_delta(IS_DELETED)} IS NULL",
        )
    except DeltaError as exc:
        raise BronzeError(f"cannot add tracking defaults to {table.table_uri}: {exc}") from None
    return int(metrics.get("num_updated_rows", 0))


def last_commit_metadata(table: DeltaTable) -> dict[str, Any]:
    """Return bronze_sync's metadata of the table's latest commit."""
    history = table.history(1)
    return commit_fields(history[0]) if history else {}


def read_commit_info(
    uri: str, options: dict[str, str] | None, version: int
) -> dict[str, Any] | None:
    """Return the commitInfo of version `version` of the table at `uri` from its commit file.

    None when the file is gone (log clean-up kept only a Delta checkpoint) or has none.
    """
    # Not DeltaTable(uri, version=N).history(1): deltalake 1.6.6 lists the NEWEST commits and
    # numbers them down from the latest version whatever version was loaded (delta-rs #4488),
    # so it would report the current head as version N. The commit file itself is one read.
    filesystem = pafs.PyFileSystem(DeltaStorageHandler(uri, options))
    try:
        with filesystem.open_input_stream(f"_delta_log/{version:020d}.json") as stream:
            info = _first_commit_info(stream)
    except (OSError, ValueError):
        return None
    if info is not None:
        info["version"] = version
    return info


def _first_commit_info(stream: Any) -> dict[str, Any] | None:
    """Return the commitInfo action of a commit file, reading only as far as it."""
    pending = b""
    while True:
        chunk = stream.read(COMMIT_CHUNK)
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop() if chunk else b""  # the last piece may be an incomplete line
        for line in lines:
            if line.strip():
                action = json.loads(line)
                if "commitInfo" in action:
                    return dict(action["commitInfo"])
        if not chunk:
            return None


def commit_fields(info: Mapping[str, Any]) -> dict[str, Any]:
    """Return a history entry's `bronze_sync.*` commit metadata without the prefix."""
    prefix = "bronze_sync."
    fields = {k.removeprefix(prefix): v for k, v in info.items() if k.startswith(prefix)}
    if not fields and isinstance(info.get("userMetadata"), str):
        fields = _user_metadata(info["userMetadata"], prefix)
    return fields


def _user_metadata(text: str, prefix: str) -> dict[str, Any]:
    """Return bronze_sync's fields a Spark engine wrote as `userMetadata` JSON."""
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {k.removeprefix(prefix): v for k, v in found.items() if k.startswith(prefix)}
