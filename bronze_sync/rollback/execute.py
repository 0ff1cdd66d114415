"""Restore each table to its pinned version: one atomic Delta commit per table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deltalake.exceptions import DeltaError

from bronze_sync.bronze.commit import commit_properties
from bronze_sync.bronze.lease import LeaseRequest, hold_lease
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.history.record import record_or_defer
from bronze_sync.metadata import AuditEntry, RunInfo
from bronze_sync.rollback.request import RollbackTarget

Progress = Callable[[str], None]


@dataclass
class RestoreResult:
    """How one table's restore ended."""

    target: RollbackTarget
    success: bool
    new_version: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    history: str | None = None  # what the ROLLBACK rows of the row history say, or why not

    @property
    def table(self) -> str:
        """Return the table name."""
        return self.target.table


def restore_tables(
    store: BronzeStore,
    targets: list[RollbackTarget],
    run: RunInfo,
    checkpoint_name: str,
    progress: Progress | None = None,
    keys: dict[str, list[str]] | None = None,
) -> list[RestoreResult]:
    """Restore every target, continuing past failures; return one result per table."""
    results = []
    for index, target in enumerate(targets, start=1):
        if progress:
            progress(f"restoring {index} of {len(targets)}: {target.table}")
        key = (keys or {}).get(target.table)
        results.append(restore_table(store, target, run, checkpoint_name, key))
    return results


def restore_table(
    store: BronzeStore,
    target: RollbackTarget,
    run: RunInfo,
    checkpoint_name: str,
    keys: list[str] | None = None,
) -> RestoreResult:
    """Restore one table to its pinned version in one commit (nothing is written on failure).

    With the table's `keys`, the rows the restore changed are appended to its row history
    (as ROLLBACK) while the lease is still held.
    """
    started = dt.datetime.now(dt.UTC)
    try:
        # A sync must not commit between the restore and the post-rollback checks.
        with hold_lease(store, target.table, LeaseRequest(run.run_id, purpose="rollback")):
            delta = store.open(store.table_uri(target.table))
            if delta is None:
                raise DeltaError(f"no bronze table at {store.table_uri(target.table)}")
            if delta.version() == target.checkpoint_version:
                return RestoreResult(target, True, delta.version(), {"already_at_checkpoint": True})
            if delta.version() != target.current_version:
                raise DeltaError(
                    f"{target.table} moved from v{target.current_version} to v{delta.version()} "
                    "since the rollback was planned; run the dry run again"
                )
            metrics = delta.restore(
                target.checkpoint_version,
                commit_properties=commit_properties(
                    {
                        "run_id": run.run_id,
                        "pipeline": run.pipeline_name,
                        "mode": "rollback",
                        "checkpoint": checkpoint_name,
                        "restored_version": str(target.checkpoint_version),
                    }
                ),
            )
            new_version = delta.version()
            history = _record_history(store, target.table, keys, new_version)
    except Exception as exc:  # one broken table must not stop the others
        seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return RestoreResult(target, False, error=message, seconds=seconds)
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    return RestoreResult(target, True, new_version, dict(metrics), seconds=seconds, history=history)


def _record_history(
    store: BronzeStore, table: str, keys: list[str] | None, version: int
) -> str | None:
    """Append the restore's ROLLBACK rows to the row history; return what happened."""
    if keys is None:
        return None
    outcome, error = record_or_defer(store, table, keys, version, reason="rollback")
    return error or (outcome.describe() if outcome is not None else None)


def restore_audit(result: RestoreResult, checkpoint_name: str, who: str) -> AuditEntry:
    """Return the TableRestore audit entry of one table's restore."""
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(seconds=result.seconds)
    target = result.target
    if not result.success:
        return AuditEntry(
            "TableRestore",
            result.table,
            start,
            now,
            status="Failed",
            error=f"restore to v{target.checkpoint_version} failed: {result.error}",
            notes=f"checkpoint {checkpoint_name}; {who}",
        )
    figures = ", ".join(f"{k}={v}" for k, v in sorted(result.metrics.items()))
    return AuditEntry(
        "TableRestore",
        result.table,
        start,
        now,
        delta_version=result.new_version,
        notes=(
            f"checkpoint {checkpoint_name}: v{target.current_version} restored to "
            f"v{target.checkpoint_version} as v{result.new_version} ({figures}); {who}"
            + (f"; {result.history}" if result.history else "")
        ),
    )
