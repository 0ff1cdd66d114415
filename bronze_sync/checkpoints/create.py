"""Create checkpoints that pin exact Delta versions, and list them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping

from deltalake.exceptions import DeltaError

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints.model import (
    FAILED,
    RETENTION_DAYS,
    VALIDATED,
    Checkpoint,
    CheckpointType,
    batch_name,
)
from bronze_sync.metadata.schemas import CHECKPOINT_HISTORY
from bronze_sync.metadata.store import MetadataStore


def create_checkpoint(
    meta: MetadataStore,
    name: str,
    kind: CheckpointType,
    table_versions: Mapping[str, int],
    now: dt.datetime,
    created_by: str,
    notes: str | None = None,
    total_rows: int | None = None,
) -> Checkpoint:
    """Record a checkpoint; an active checkpoint of the same name is superseded (deactivated)."""
    status, rows, problems = _verify(meta.store, table_versions)
    checkpoint = Checkpoint(
        checkpoint_id=str(uuid.uuid4()),
        name=name,
        type=kind,
        created=now,
        table_versions=dict(table_versions),
        total_rows=rows if total_rows is None else total_rows,
        validation_status=status,
        retention_date=(now + dt.timedelta(days=RETENTION_DAYS[kind])).date(),
        is_active=True,
        notes="; ".join(filter(None, [notes, *problems])) or None,
        created_by=created_by,
    )
    superseded = [
        dataclasses.replace(
            old,
            is_active=False,
            notes="; ".join(filter(None, [old.notes, f"superseded by {checkpoint.checkpoint_id}"])),
        )
        for old in list_checkpoints(meta)
        if old.name == name
    ]
    rows_out = [c.to_row() for c in [*superseded, checkpoint]]
    meta.upsert(CHECKPOINT_HISTORY, rows_out, keys=["CheckpointId"])
    return checkpoint


def create_batch_checkpoint(
    meta: MetadataStore, partition_key: str, now: dt.datetime, created_by: str
) -> Checkpoint | None:
    """Record the DailyBatch checkpoint of a sync batch from its tables' Daily checkpoints."""
    prefix = f"bronze_backup_{partition_key}_"
    dailies = [
        c
        for c in list_checkpoints(meta, kind=CheckpointType.DAILY)
        if c.name.startswith(prefix) and c.validation_status == VALIDATED
    ]
    if not dailies:
        return None
    versions: dict[str, int] = {}
    total = 0
    for daily in dailies:
        versions.update(daily.table_versions)
        total += daily.total_rows
    existing = find_checkpoint(meta, batch_name(partition_key), CheckpointType.DAILY_BATCH)
    if existing and existing.is_active and existing.table_versions == versions:
        return existing  # the run's sensor and the CLI may both record the same batch
    return create_checkpoint(
        meta,
        batch_name(partition_key),
        CheckpointType.DAILY_BATCH,
        versions,
        now,
        created_by,
        notes=f"{len(versions)} table(s) synced in batch {partition_key}",
        total_rows=total,
    )


def list_checkpoints(
    meta: MetadataStore, include_inactive: bool = False, kind: CheckpointType | None = None
) -> list[Checkpoint]:
    """Return checkpoints, newest first."""
    checkpoints = [Checkpoint.from_row(r) for r in meta.rows(CHECKPOINT_HISTORY)]
    checkpoints = [
        c
        for c in checkpoints
        if (include_inactive or c.is_active) and (kind is None or c.type == kind)
    ]
    return sorted(checkpoints, key=lambda c: c.created, reverse=True)


def find_checkpoint(
    meta: MetadataStore, name: str, kind: CheckpointType | None = None
) -> Checkpoint | None:
    """Return the newest checkpoint called `name` (active ones first), or None."""
    matches = [
        c for c in list_checkpoints(meta, include_inactive=True, kind=kind) if c.name == name
    ]
    matches.sort(key=lambda c: (c.is_active, c.created), reverse=True)
    return matches[0] if matches else None


def _verify(store: BronzeStore, table_versions: Mapping[str, int]) -> tuple[str, int, list[str]]:
    """Return (status, total rows, problems) after opening every table at its version."""
    total, problems = 0, []
    for table, version in table_versions.items():
        try:
            delta = store.open(store.table_uri(table), version=version)
        except (DeltaError, OSError) as exc:
            problems.append(f"{table}@{version}: {exc}")
            continue
        if delta is None:
            problems.append(f"{table}: no bronze table")
            continue
        total += delta.count()
    return (FAILED if problems else VALIDATED), total, problems
