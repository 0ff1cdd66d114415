"""Daily checkpoints a committed sync could not record: find them and record them later.

A sync whose checkpoint still failed after its retries writes a `DailyCheckpoint` audit row
with status Warning naming the table and the Delta version left unpinned. The next sync of
the table (under its lease) and the batch checkpoint sensor call `repair_checkpoints`: it pins
that version while it is restorable and audits the outcome (Success, or Skipped with why),
which closes the Warning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import pyarrow.compute as pc

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints.create import create_checkpoint, list_checkpoints
from bronze_sync.checkpoints.integrity import check_restorable
from bronze_sync.checkpoints.model import VALIDATED, Checkpoint, CheckpointType, daily_name
from bronze_sync.metadata.audit import AuditEntry, RunInfo, write_audit
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync.metadata.store import MetadataStore

CHECKPOINT_OPERATION = "DailyCheckpoint"
FAILED, REPAIRED, SKIPPED = "Warning", "Success", "Skipped"
_COLUMNS = [
    "TableName",
    "Operation",
    "Status",
    "DeltaVersion",
    "PartitionKey",
    "CreatedDate",
    "PipelineRunId",
]


@dataclass(frozen=True)
class MissingCheckpoint:
    """A table version whose Daily checkpoint failed and is not recorded yet."""

    table: str
    version: int
    name: str
    run_id: str | None
    failed_at: dt.datetime


def checkpoint_day(partition_key: str | None, when: dt.datetime) -> str:
    """Return a run's sync batch day: its partition key when a date, else `when` (UTC)."""
    if partition_key and len(partition_key) == 10:
        try:
            return dt.date.fromisoformat(partition_key).isoformat()
        except ValueError:
            pass  # a partitioned table's value key, not a sync batch day
    return when.astimezone(dt.UTC).date().isoformat()


def missing_checkpoints(
    meta: MetadataStore, tables: Collection[str] | None = None
) -> list[MissingCheckpoint]:
    """Return the versions whose last DailyCheckpoint audit row is a Warning, oldest first."""
    audit = meta.read(SYNC_AUDIT_LOG, _COLUMNS)
    mine = audit.filter(
        pc.fill_null(pc.equal(audit.column("Operation"), CHECKPOINT_OPERATION), False)
    )
    last: dict[tuple[str, int], dict] = {}
    for row in sorted(mine.to_pylist(), key=lambda r: r["CreatedDate"]):
        if row["DeltaVersion"] is None or (tables is not None and row["TableName"] not in tables):
            continue
        last[(row["TableName"], int(row["DeltaVersion"]))] = row
    return [
        MissingCheckpoint(
            table=table,
            version=version,
            name=daily_name(checkpoint_day(row["PartitionKey"], row["CreatedDate"]), table),
            run_id=row["PipelineRunId"],
            failed_at=row["CreatedDate"],
        )
        for (table, version), row in last.items()
        if row["Status"] == FAILED
    ]


def repair_checkpoints(
    meta: MetadataStore,
    store: BronzeStore,
    run: RunInfo,
    now: dt.datetime,
    created_by: str,
    tables: Collection[str] | None = None,
) -> list[Checkpoint]:
    """Record the missing Daily checkpoints of `tables` (default: all); return those made."""
    missing = missing_checkpoints(meta, tables)
    if not missing:
        return []
    active = list_checkpoints(meta)
    made: list[Checkpoint] = []
    entries = []
    for gap in missing:
        checkpoint, entry = _repair(meta, store, gap, now, created_by, active)
        entries.append(entry)
        if checkpoint is not None:
            made.append(checkpoint)
            active = [checkpoint, *(c for c in active if c.name != checkpoint.name)]
    write_audit(meta, run, entries, now)
    return made


def _repair(
    meta: MetadataStore,
    store: BronzeStore,
    gap: MissingCheckpoint,
    now: dt.datetime,
    created_by: str,
    active: list[Checkpoint],
) -> tuple[Checkpoint | None, AuditEntry]:
    """Pin one missing version if it still makes sense; return the checkpoint and its audit."""
    pinned = next((c for c in active if c.table_versions.get(gap.table) == gap.version), None)
    if pinned is not None:
        return None, _entry(gap, now, REPAIRED, f"version already pinned by {pinned.name}")
    same = next((c for c in active if c.name == gap.name), None)
    later = same.table_versions.get(gap.table, -1) if same is not None else -1
    if same is not None and later > gap.version:
        note = f"not recorded: {same.name} already pins the later version {later}"
        return None, _entry(gap, now, SKIPPED, note)
    restorable = check_restorable(store, gap.table, gap.version)
    if not restorable.restorable:
        note = f"not recorded: version {gap.version} is no longer restorable: {restorable.reason}"
        return None, _entry(gap, now, SKIPPED, note)
    checkpoint = create_checkpoint(
        meta,
        gap.name,
        CheckpointType.DAILY,
        {gap.table: gap.version},
        now,
        created_by,
        notes=f"recorded late: the checkpoint of run {gap.run_id} failed",
        active=active,
    )
    if checkpoint.validation_status != VALIDATED:
        note = f"recorded {checkpoint.name} but it is {checkpoint.validation_status}"
        return checkpoint, _entry(gap, now, SKIPPED, note)
    failed = gap.failed_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    note = f"recorded {checkpoint.name} late (its sync's checkpoint failed at {failed})"
    return checkpoint, _entry(gap, now, REPAIRED, note)


def _entry(gap: MissingCheckpoint, now: dt.datetime, status: str, notes: str) -> AuditEntry:
    return AuditEntry(
        CHECKPOINT_OPERATION,
        gap.table,
        now,
        now,
        status=status,
        notes=notes,
        delta_version=gap.version,
    )
