"""Create checkpoints that pin exact Delta versions, and list them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping

from deltalake.exceptions import DeltaError

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints.commits import CommitIdentity, commit_identity, rewritten_reason
from bronze_sync.checkpoints.model import (
    FAILED,
    KEEP_FOREVER,
    PERMANENT_TYPES,
    RETENTION_DAYS,
    VALIDATED,
    Checkpoint,
    CheckpointType,
    batch_name,
)
from bronze_sync.checkpoints.promotion import PROMOTED_FROM, promotions
from bronze_sync.errors import BronzeError, CheckpointUsageError
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
    active: list[Checkpoint] | None = None,
    table_commits: Mapping[str, CommitIdentity] | None = None,
    retain_days: int | None = None,
    keep_forever: bool = False,
) -> Checkpoint:
    """Record a checkpoint; an active checkpoint of the same name is superseded (deactivated).

    `active` (the active checkpoints, if the caller has just read them) saves a read.
    `table_commits`: the commit identities a copied checkpoint already recorded (a batch from
    its dailies); the other tables' identities are read from their logs. `retain_days`
    overrides the type's retention; `keep_forever` (always for PrePurge) makes it permanent,
    and a permanent checkpoint is never superseded: retire it first.
    """
    active = list_checkpoints(meta) if active is None else active
    kept = next((c for c in active if c.name == name and c.is_active and c.permanent), None)
    if kept is not None:
        raise CheckpointUsageError(
            f"checkpoint {name} is permanent and cannot be replaced; end it first with "
            f"`bronze-sync checkpoint retire {name}`"
        )
    permanent = keep_forever or kind in PERMANENT_TYPES
    days = RETENTION_DAYS[kind] if retain_days is None else retain_days
    status, rows, problems, commits = _verify(meta.store, table_versions, table_commits or {})
    checkpoint = Checkpoint(
        checkpoint_id=str(uuid.uuid4()),
        name=name,
        type=kind,
        created=now,
        table_versions=dict(table_versions),
        total_rows=rows if total_rows is None else total_rows,
        validation_status=status,
        retention_date=KEEP_FOREVER if permanent else (now + dt.timedelta(days=days)).date(),
        is_active=True,
        notes="; ".join(filter(None, [notes, *problems])) or None,
        created_by=created_by,
        table_commits=commits,
        permanent=permanent,
    )
    superseded = [
        dataclasses.replace(
            old,
            is_active=False,
            notes="; ".join(filter(None, [old.notes, f"superseded by {checkpoint.checkpoint_id}"])),
        )
        for old in active
        if old.name == name and old.is_active
    ]
    if superseded:
        rows_out = [c.to_row() for c in [*superseded, checkpoint]]
        meta.upsert(CHECKPOINT_HISTORY, rows_out, keys=["CheckpointId"])
    else:  # a new id: an append is enough, and much cheaper than a MERGE
        meta.append(CHECKPOINT_HISTORY, [checkpoint.to_row()])
    return checkpoint


def create_batch_checkpoint(
    meta: MetadataStore, partition_key: str, now: dt.datetime, created_by: str
) -> Checkpoint | None:
    """Record the DailyBatch checkpoint of a sync batch from its tables' Daily checkpoints."""
    prefix = f"bronze_backup_{partition_key}_"
    active = list_checkpoints(meta)  # read once: dailies, the batch, weekly/monthly copies
    dailies = [
        c
        for c in active
        if c.type == CheckpointType.DAILY
        and c.name.startswith(prefix)
        and c.validation_status == VALIDATED
    ]
    if not dailies:
        return None
    versions: dict[str, int] = {}
    commits: dict[str, CommitIdentity] = {}
    total = 0
    for daily in dailies:
        versions.update(daily.table_versions)
        commits.update(daily.table_commits)
        total += daily.total_rows
    name = batch_name(partition_key)
    existing = next(
        (c for c in active if c.name == name and c.type == CheckpointType.DAILY_BATCH), None
    )
    if existing and existing.table_versions == versions:
        batch = existing  # the run's sensor and the CLI may both record the same batch
    else:
        batch = create_checkpoint(
            meta,
            batch_name(partition_key),
            CheckpointType.DAILY_BATCH,
            versions,
            now,
            created_by,
            notes=f"{len(versions)} table(s) synced in batch {partition_key}",
            total_rows=total,
            active=active,
            table_commits=commits,
        )
    promote_batch(meta, batch, created_by, active)
    return batch


def promote_batch(
    meta: MetadataStore,
    batch: Checkpoint,
    created_by: str,
    active: list[Checkpoint] | None = None,
) -> list[Checkpoint]:
    """Copy a DailyBatch checkpoint as Weekly/Monthly when it is the first of its week/month."""
    if batch.validation_status != VALIDATED:
        return []
    active = list_checkpoints(meta) if active is None else active
    return [
        create_checkpoint(
            meta,
            promotion.name,
            promotion.type,
            batch.table_versions,
            batch.created,  # the copy is the same restore point: its retention counts from it
            created_by,
            notes=f"{PROMOTED_FROM}{batch.name}",
            total_rows=batch.total_rows,
            active=active,
            table_commits=batch.table_commits,
        )
        for promotion in promotions(batch, active)
    ]


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


def _verify(
    store: BronzeStore, table_versions: Mapping[str, int], recorded: Mapping[str, CommitIdentity]
) -> tuple[str, int, list[str], dict[str, CommitIdentity]]:
    """Return (status, total rows, problems, commit identities) after opening every table at
    its version; a `recorded` identity the log no longer holds is a problem."""
    total, problems, commits = 0, [], {}
    for table, version in table_versions.items():
        try:
            delta = store.open(store.table_uri(table), version=version)
        except (BronzeError, DeltaError, OSError) as exc:
            problems.append(f"{table}@{version}: {exc}")
            continue
        if delta is None:
            problems.append(f"{table}: no bronze table")
            continue
        total += delta.count()
        found = commit_identity(store, table, version)
        pinned = recorded.get(table, found)
        if pinned is not None and found is not None and pinned != found:
            problems.append(f"{table}: {rewritten_reason(version, pinned, found)}")
        if pinned is not None:
            commits[table] = pinned
    return (FAILED if problems else VALIDATED), total, problems, commits
