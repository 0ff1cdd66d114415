"""Checkpoint types, retention and names (ARCHITECTURE §6)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bronze_sync.checkpoints.commits import (
    CommitIdentity,
    identities_from_json,
    identities_to_json,
)


class CheckpointType(StrEnum):
    """Why a checkpoint was taken; decides how long it is kept."""

    DAILY = "Daily"
    DAILY_BATCH = "DailyBatch"
    WEEKLY = "Weekly"
    MONTHLY = "Monthly"
    PRE_PURGE = "PrePurge"
    MANUAL = "Manual"
    POST_ROLLBACK = "PostRollback"
    PRE_MAINTENANCE = "PreMaintenance"
    PRE_SCHEMA_CHANGE = "PreSchemaChange"


RETENTION_DAYS: dict[CheckpointType, int] = {
    CheckpointType.DAILY: 7,
    CheckpointType.DAILY_BATCH: 7,
    CheckpointType.WEEKLY: 28,
    CheckpointType.MONTHLY: 365,
    CheckpointType.PRE_PURGE: 365,
    CheckpointType.MANUAL: 30,
    CheckpointType.POST_ROLLBACK: 30,
    CheckpointType.PRE_MAINTENANCE: 30,
    CheckpointType.PRE_SCHEMA_CHANGE: 90,
}

# Never expire: only `bronze-sync checkpoint retire` ends one (issue 21). RetentionDate holds
# KEEP_FOREVER so readers that only compare dates see them as never expiring, too.
PERMANENT_TYPES = frozenset({CheckpointType.PRE_PURGE})
KEEP_FOREVER = dt.date(9999, 12, 31)

VALIDATED = "Validated"
FAILED = "Failed"


def daily_name(day: str, table: str) -> str:
    """Return the name of a table's Daily checkpoint for a sync batch day."""
    return f"bronze_backup_{day}_{table}"


def pre_schema_change_name(table: str, now: dt.datetime) -> str:
    """Return the name of the checkpoint taken before a table's schema is rewritten."""
    return f"pre_schema_change_{table}_{now.astimezone(dt.UTC):%Y-%m-%dT%H%M%S}"


def batch_name(partition_key: str) -> str:
    """Return the name of a sync batch's DailyBatch checkpoint."""
    return f"bronze_batch_{partition_key}"


@dataclass(frozen=True)
class Checkpoint:
    """A named set of exact Delta versions of bronze tables."""

    checkpoint_id: str
    name: str
    type: CheckpointType
    created: dt.datetime
    table_versions: dict[str, int]
    total_rows: int
    validation_status: str
    retention_date: dt.date
    is_active: bool
    notes: str | None = None
    created_by: str | None = None
    # table -> identity of the pinned commit; empty for rows written before TableCommits.
    table_commits: dict[str, CommitIdentity] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    permanent: bool = False  # KeepForever: no retention date; `checkpoint retire` ends it

    def expires(self) -> str:
        """Return when the checkpoint expires, as shown to operators."""
        return "never (permanent)" if self.permanent else self.retention_date.isoformat()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Checkpoint:
        """Build a checkpoint from a CheckpointHistory row."""
        return cls(
            checkpoint_id=row["CheckpointId"],
            name=row["CheckpointName"],
            type=CheckpointType(row["CheckpointType"]),
            created=row["CreatedDate"],
            table_versions={k: int(v) for k, v in json.loads(row["TableVersions"] or "{}").items()},
            total_rows=row["TotalRows"] or 0,
            validation_status=row["ValidationStatus"],
            retention_date=row["RetentionDate"],
            is_active=bool(row["IsActive"]),
            notes=row["Notes"],
            created_by=row["CreatedBy"],
            table_commits=identities_from_json(row.get("TableCommits")),
            permanent=bool(row.get("KeepForever")),  # null on rows older than the column
        )

    def to_row(self) -> dict[str, Any]:
        """Return the CheckpointHistory row of this checkpoint."""
        return {
            "CheckpointId": self.checkpoint_id,
            "CheckpointName": self.name,
            "CheckpointType": self.type.value,
            "CreatedDate": self.created,
            "TablesIncluded": len(self.table_versions),
            "TotalRows": self.total_rows,
            "ValidationStatus": self.validation_status,
            "RetentionDate": self.retention_date,
            "IsActive": self.is_active,
            "Notes": self.notes,
            "CreatedBy": self.created_by,
            "TableVersions": json.dumps(self.table_versions, sort_keys=True),
            "TableCommits": identities_to_json(self.table_commits),
            "KeepForever": self.permanent,
        }
