"""SyncAuditLog and DataValidation rows (append-only)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow.compute as pc

from bronze_sync.metadata.audit_chain import append_chained
from bronze_sync.metadata.schemas import DATA_VALIDATION, SYNC_AUDIT_LOG
from bronze_sync.metadata.store import MetadataStore

MAX_MESSAGE = 4000


@dataclass(frozen=True)
class RunInfo:
    """Who is writing: the orchestration run, its job and partition."""

    run_id: str
    pipeline_name: str = "daily_sync"
    partition_key: str | None = None


@dataclass
class AuditEntry:
    """One operation on one table."""

    operation: str
    table: str | None
    start: dt.datetime
    end: dt.datetime | None = None
    status: str = "Success"
    rows_processed: int = 0
    rows_deleted: int = 0
    rows_purged: int = 0
    error: str | None = None
    retry_count: int = 0
    notes: str | None = None
    delta_version: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    recovered: bool = False


def audit_row(run: RunInfo, entry: AuditEntry, now: dt.datetime) -> dict[str, Any]:
    """Return the SyncAuditLog row of `entry`."""
    return {
        "LogId": str(uuid.uuid4()),
        "PipelineRunId": run.run_id,
        "PipelineName": run.pipeline_name,
        "TableName": entry.table,
        "Operation": entry.operation,
        "StartTime": entry.start,
        "EndTime": entry.end or now,
        "RowsProcessed": entry.rows_processed,
        "RowsDeleted": entry.rows_deleted,
        "RowsPurged": entry.rows_purged,
        "Status": entry.status,
        "ErrorMessage": entry.error[:MAX_MESSAGE] if entry.error else None,
        "RetryCount": entry.retry_count,
        "Notes": entry.notes[:MAX_MESSAGE] if entry.notes else None,
        "CreatedDate": now,
        "PartitionKey": run.partition_key,
        "DeltaVersion": entry.delta_version,
        "Recovered": entry.recovered,
    }


def write_audit(
    meta: MetadataStore, run: RunInfo, entries: list[AuditEntry], now: dt.datetime
) -> None:
    """Append the audit rows of `entries` in one commit."""
    append_chained(meta, [audit_row(run, e, now) for e in entries])


@dataclass(frozen=True)
class ValidationRecord:
    """The counts and verdict of one validation of one table."""

    table: str
    context: str
    passed: bool
    total: int
    active: int
    deleted: int
    purged: int
    source_rows: int | None = None
    notes: str | None = None


def write_validation(
    meta: MetadataStore, run: RunInfo, records: list[ValidationRecord], now: dt.datetime
) -> None:
    """Append DataValidation rows in one commit."""
    meta.append(
        DATA_VALIDATION,
        [
            {
                "ValidationId": str(uuid.uuid4()),
                "ValidationDate": now,
                "TableName": r.table,
                "SourceRowCount": r.source_rows,
                "BronzeRowCount": r.total,
                "ActiveRowCount": r.active,
                "DeletedRowCount": r.deleted,
                "PurgedRowCount": r.purged,
                "ValidationPassed": r.passed,
                "Notes": r.notes,
                "ValidationContext": r.context,
                "PipelineRunId": run.run_id,
            }
            for r in records
        ],
    )


LOST_VERSIONS_ACCEPTED = "LostVersionsAccepted"


def table_audit_rows(meta: MetadataStore, table: str) -> list[dict[str, Any]]:
    """Return one table's SyncAuditLog rows: version, run, operation and date."""
    columns = ["TableName", "DeltaVersion", "PipelineRunId", "Operation", "CreatedDate"]
    audit = meta.read(SYNC_AUDIT_LOG, columns)
    mine = pc.fill_null(pc.equal(audit.column("TableName"), table), False)
    return audit.filter(mine).to_pylist()


def audited_versions(rows: list[dict[str, Any]]) -> set[int]:
    """Return the bronze versions one table's SyncAuditLog rows name.

    After an operator accepted lost log versions (the log ended at version L), version
    numbers above L are reused by new commits: only rows written after the acceptance count
    for them.
    """
    accepted = [r for r in rows if r["Operation"] == LOST_VERSIONS_ACCEPTED]
    last = max(accepted, key=lambda r: r["CreatedDate"], default=None)
    versions = set()
    for row in rows:
        version = row["DeltaVersion"]
        if version is None:
            continue
        # Numbers above the accepted log's end were reused: count only rows after the acceptance.
        if (
            last is None
            or version <= last["DeltaVersion"]
            or row["CreatedDate"] > last["CreatedDate"]
        ):
            versions.add(int(version))
    return versions
