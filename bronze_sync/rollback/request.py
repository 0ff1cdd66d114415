"""What an operator asks when rolling back, and the checks a checkpoint must pass first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from deltalake.exceptions import DeltaError

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import Checkpoint, CheckpointType, find_checkpoint
from bronze_sync.checkpoints.commits import CommitIdentity
from bronze_sync.checkpoints.integrity import check_restorable
from bronze_sync.checkpoints.model import VALIDATED
from bronze_sync.errors import BronzeError, CheckpointError
from bronze_sync.metadata import MetadataStore
from bronze_sync.pii.migration_log import migrated_after

PIPELINE_NAME = "rollback_to_checkpoint"


class RollbackValidationError(CheckpointError):
    """The checkpoint cannot be rolled back to (unknown, inactive, not restorable); nothing
    was changed."""

    exit_code = 2


class ApprovalError(CheckpointError):
    """Execution was asked for without a valid, current approval token; nothing was changed."""

    exit_code = 2


@dataclass(frozen=True)
class RollbackRequest:
    """Roll bronze tables back to checkpoint `checkpoint_name` (tables None: all it pins)."""

    checkpoint_name: str
    checkpoint_type: CheckpointType | None = None
    tables: tuple[str, ...] | None = None
    dry_run: bool = True
    require_approval: bool = True
    approval_token: str | None = None
    reason: str | None = None
    requested_by: str = "unknown"

    def who(self) -> str:
        """Return "requested by X: reason" for audit notes."""
        why = self.reason or "no reason given"
        return f"requested by {self.requested_by}: {why}"


@dataclass(frozen=True)
class RollbackTarget:
    """One table to roll back: its pinned version and its current version."""

    table: str
    checkpoint_version: int
    current_version: int


def find_rollback_checkpoint(meta: MetadataStore, request: RollbackRequest) -> Checkpoint:
    """Return the requested checkpoint if it is active and validated, else raise."""
    checkpoint = find_checkpoint(meta, request.checkpoint_name, request.checkpoint_type)
    kind = f" of type {request.checkpoint_type.value}" if request.checkpoint_type else ""
    if checkpoint is None:
        raise RollbackValidationError(
            f"no checkpoint named {request.checkpoint_name!r}{kind} (list them with "
            "`bronze-sync checkpoints --all`)"
        )
    if not checkpoint.is_active:
        raise RollbackValidationError(
            f"checkpoint {checkpoint.name} is inactive (expired or superseded: "
            f"{checkpoint.notes or 'no notes'}); choose an active checkpoint"
        )
    if checkpoint.validation_status != VALIDATED:
        raise RollbackValidationError(
            f"checkpoint {checkpoint.name} has ValidationStatus {checkpoint.validation_status} "
            f"({checkpoint.notes or 'no notes'}); choose a validated checkpoint"
        )
    return checkpoint


def validate_rollback(
    store: BronzeStore, checkpoint: Checkpoint, scope: tuple[str, ...] | None
) -> list[RollbackTarget]:
    """Return the tables to restore; raise one error listing every problem."""
    names = list(scope) if scope is not None else sorted(checkpoint.table_versions)
    problems: list[str] = []
    targets = []
    for name in names:
        if name not in checkpoint.table_versions:
            pinned = ", ".join(sorted(checkpoint.table_versions))
            problems.append(
                f"{name}: not pinned by checkpoint {checkpoint.name} (it pins {pinned})"
            )
            continue
        version = checkpoint.table_versions[name]
        problem, current = _check_table(store, name, version, checkpoint.table_commits.get(name))
        if problem:
            problems.append(problem)
        else:
            targets.append(RollbackTarget(name, version, current))
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise RollbackValidationError(
            f"cannot roll back to {checkpoint.name} (nothing was changed):\n{listed}"
        )
    return targets


def _check_table(
    store: BronzeStore, name: str, version: int, recorded: CommitIdentity | None
) -> tuple[str | None, int]:
    verdict = check_restorable(store, name, version, recorded)
    if verdict.rewritten:
        return f"{name}: {verdict.reason}; choose a later checkpoint", -1
    if not verdict.restorable:
        when = vacuumed_on(store, name)
        if when is not None:
            return (
                f"version {version} of {name} was vacuumed on {when:%Y-%m-%d %H:%M} UTC "
                f"({verdict.reason}); choose a later checkpoint",
                -1,
            )
        return f"{verdict.reason}; choose a later checkpoint", -1
    try:
        delta = store.open(store.table_uri(name))
    except (BronzeError, DeltaError, OSError) as exc:
        return f"{name}: cannot open the current bronze table: {exc}", -1
    if delta is None:
        return f"{name}: no bronze table", -1
    if delta.version() < version:
        return (
            f"{name}: pinned version {version} is newer than the current version "
            f"{delta.version()} (was the table re-created?)",
            -1,
        )
    migrated = migrated_after(delta, version)
    if migrated is not None:
        return (
            f"{name}: version {migrated} migrated its PII columns to a new policy; restoring "
            f"version {version} would bring back values under the old one; choose a "
            f"checkpoint at or after version {migrated}",
            -1,
        )
    return None, delta.version()


def vacuumed_on(store: BronzeStore, name: str) -> dt.datetime | None:
    """Return when the table was last vacuumed, if its history says so."""
    try:
        delta = store.open(store.table_uri(name))
        history = delta.history() if delta is not None else []
    except (BronzeError, DeltaError, OSError):
        return None
    stamps = [h["timestamp"] for h in history if str(h.get("operation", "")).startswith("VACUUM")]
    if not stamps:
        return None
    return dt.datetime.fromtimestamp(max(stamps) / 1000, dt.UTC)
