"""PipelineConfig: the YAML declares tables, this table holds their operational state."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pyarrow.compute as pc

from bronze_sync.config.models import Config, TableConfig
from bronze_sync.errors import MetadataError
from bronze_sync.metadata.schemas import PIPELINE_CONFIG
from bronze_sync.metadata.store import MetadataStore

_NAMESPACE = uuid.UUID("6f1d3c1e-7b0a-4a53-9a5e-0b2f1c9d4e21")
# The columns the YAML decides; a write of operational state touches only these and its own,
# so concurrent writers (a sync, a purge recording) never undo each other's state.
DECLARED_COLUMNS = [
    "TableId",
    "TableName",
    "SchemaName",
    "PrimaryKeyColumn",
    "SyncEnabled",
    "TrackDeletes",
    "SourceTable",
    "CreatedColumn",
    "ModifiedColumn",
    "MaxDeleteFraction",
    "DailyCheckpointRetentionDays",
    "ModifiedDate",
]


def table_id(name: str) -> str:
    """Return the stable TableId of a bronze table name."""
    return str(uuid.uuid5(_NAMESPACE, name))


def read_state(meta: MetadataStore, name: str) -> dict[str, Any] | None:
    """Return the PipelineConfig row of table `name`, or None."""
    data = meta.read(PIPELINE_CONFIG)
    rows = data.filter(pc.equal(data.column("TableName"), name)).to_pylist()
    return rows[0] if rows else None


def read_all(meta: MetadataStore) -> dict[str, dict[str, Any]]:
    """Return every PipelineConfig row by table name."""
    return {row["TableName"]: row for row in meta.rows(PIPELINE_CONFIG)}


def declared_row(
    table: TableConfig, existing: dict[str, Any] | None, now: dt.datetime
) -> dict[str, Any]:
    """Return the row for `table`: settings from YAML, operational state kept from `existing`."""
    row = dict(existing) if existing else {"CreatedDate": now, "PurgeRecordCount": 0}
    row.update(
        {
            "TableId": table_id(table.name),
            "TableName": table.name,
            "SchemaName": table.source_schema or "",
            "PrimaryKeyColumn": ",".join(table.primary_key),
            "SyncEnabled": table.enabled,
            "TrackDeletes": table.track_deletes,
            "SourceTable": table.source,
            "CreatedColumn": table.created_column,
            "ModifiedColumn": table.modified_column,
            "MaxDeleteFraction": table.max_delete_fraction,
            "DailyCheckpointRetentionDays": table.daily_checkpoint_retention_days,
            "ModifiedDate": now,
        }
    )
    return row


def sync_declared(meta: MetadataStore, config: Config, now: dt.datetime) -> None:
    """Upsert every configured table; tables no longer configured are disabled, not dropped."""
    existing = read_all(meta)
    rows = [declared_row(t, existing.get(t.name), now) for t in config.tables]
    meta.upsert(PIPELINE_CONFIG, rows, keys=["TableName"], columns=DECLARED_COLUMNS)
    configured = {t.name for t in config.tables}
    removed = [
        {**row, "SyncEnabled": False, "ModifiedDate": now, "Notes": "not in config"}
        for name, row in existing.items()
        if name not in configured and row.get("SyncEnabled")
    ]
    columns = ["TableName", "SyncEnabled", "ModifiedDate", "Notes"]
    meta.upsert(PIPELINE_CONFIG, removed, keys=["TableName"], columns=columns)


def update_state(
    meta: MetadataStore, table: TableConfig, now: dt.datetime, **state: Any
) -> dict[str, Any]:
    """Merge operational `state` (column=value) into the table's row; return the new row."""
    row = declared_row(table, read_state(meta, table.name), now)
    row.update(state)
    columns = list(dict.fromkeys([*DECLARED_COLUMNS, *state]))
    meta.upsert(PIPELINE_CONFIG, [row], keys=["TableName"], columns=columns)
    return row


def record_purge(
    meta: MetadataStore,
    table: TableConfig,
    purge_date: dt.datetime,
    now: dt.datetime,
    purge_count: int | None = None,
    notes: str | None = None,
) -> dict[str, Any]:
    """Record that the source purged rows of `table` created before `purge_date`."""
    if purge_date.tzinfo is None:
        raise MetadataError("purge date must be timezone-aware (UTC)")
    previous = read_state(meta, table.name) or {}
    total = (previous.get("PurgeRecordCount") or 0) + (purge_count or 0)
    extra = {"Notes": notes} if notes else {}
    return update_state(
        meta,
        table,
        now,
        LastPurgeDate=purge_date,
        PurgeRecordCount=total,
        LastPurgeRecorded=now,
        **extra,
    )
