"""Checkpoint retention enforcement: expired active checkpoints become inactive, never deleted."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from bronze_sync.checkpoints.create import list_checkpoints
from bronze_sync.checkpoints.model import Checkpoint
from bronze_sync.metadata.audit import AuditEntry, RunInfo, write_audit
from bronze_sync.metadata.schemas import CHECKPOINT_HISTORY
from bronze_sync.metadata.store import MetadataStore

OPERATION = "CheckpointRetentionEnforcement"
MAX_NAMES = 50


def expired_checkpoints(active: Sequence[Checkpoint], now: dt.datetime) -> list[Checkpoint]:
    """Return the active checkpoints whose RetentionDate has passed (it is before today, UTC).

    Every type follows its RetentionDate: Manual checkpoints, too, stay active until that
    date has passed, never earlier. Permanent ones (PrePurge, --keep-forever) never expire.
    """
    today = now.astimezone(dt.UTC).date()
    return [c for c in active if c.is_active and not c.permanent and c.retention_date < today]


def still_active(active: Sequence[Checkpoint], expired: Sequence[Checkpoint]) -> list[Checkpoint]:
    """Return the active checkpoints that survive enforcement."""
    gone = {c.checkpoint_id for c in expired}
    return [c for c in active if c.is_active and c.checkpoint_id not in gone]


def enforce_retention(
    meta: MetadataStore, run: RunInfo, now: dt.datetime, *, dry_run: bool = False
) -> tuple[list[Checkpoint], list[Checkpoint]]:
    """Deactivate expired checkpoints; return (deactivated, still active).

    The rows stay in CheckpointHistory with IsActive = false and a note saying why; one
    CheckpointRetentionEnforcement row goes to SyncAuditLog. A dry run changes nothing.
    """
    active = list_checkpoints(meta)
    expired = expired_checkpoints(active, now)
    if dry_run:
        return expired, still_active(active, expired)
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%d")
    rows = [
        dataclasses.replace(
            c,
            is_active=False,
            notes="; ".join(
                filter(
                    None,
                    [c.notes, f"expired {c.retention_date}, deactivated by maintenance {stamp}"],
                )
            ),
        ).to_row()
        for c in expired
    ]
    meta.update(CHECKPOINT_HISTORY, rows, keys=["CheckpointId"], columns=["IsActive", "Notes"])
    write_audit(meta, run, [_audit(expired, now)], now)
    return expired, still_active(active, expired)


def _audit(expired: Sequence[Checkpoint], now: dt.datetime) -> AuditEntry:
    names = [c.name for c in expired]
    listed = ", ".join(names[:MAX_NAMES]) + (" ..." if len(names) > MAX_NAMES else "")
    return AuditEntry(
        OPERATION,
        None,
        now,
        now,
        rows_processed=len(expired),
        notes=f"{len(expired)} expired checkpoint(s) deactivated"
        + (f": {listed}" if names else ""),
    )
