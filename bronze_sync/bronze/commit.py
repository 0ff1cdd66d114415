"""Write to bronze Delta tables: create, evolve the schema, and one MERGE per sync."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Field, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError

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


def commit_fields(info: Mapping[str, Any]) -> dict[str, Any]:
    """Return a history entry's `bronze_sync.*` commit metadata without the prefix."""
    prefix = "bronze_sync."
    return {k.removeprefix(prefix): v for k, v in info.items() if k.startswith(prefix)}
