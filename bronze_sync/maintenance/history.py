"""Maintain row-history tables: retention of old rows, then VACUUM, OPTIMIZE and log cleanup.

A history table (`{bronze.path}/history/{table}`) is append-only and never rolled back, so no
checkpoint pins it: it is maintained with its bronze table's settings (no Z-order), under the
bronze table's lease, and goes by `history/{table}` in the summary, SyncAuditLog and
StorageHistory. It never uses the bronze table's name there: its Delta versions are the
history table's own, and sync recovery and the audit check read a table's audited versions
by its name.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from deltalake import CommitProperties, DeltaTable

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config.models import TableConfig
from bronze_sync.history.columns import BRONZE_VERSION, CHANGED_AT, HISTORY_DIR, history_uri
from bronze_sync.history.store import (
    Coverage,
    coverage_commit,
    coverage_metadata,
    coverage_of,
)
from bronze_sync.identifiers import quote_delta
from bronze_sync.maintenance.operations import (
    LOG_CLEANUP,
    OPTIMIZE,
    VACUUM,
    OperationResult,
    cleanup_log,
    optimize_table,
    vacuum_table,
)
from bronze_sync.maintenance.safety import RETENTION, Pin, plan_log_cleanup, plan_vacuum
from bronze_sync.maintenance.steps import Step, run_steps
from bronze_sync.maintenance.storage import measure
from bronze_sync.maintenance.summary import FAILED, SKIPPED, TableOutcome

log = logging.getLogger(__name__)

HISTORY = "history"  # the TableOutcome / StorageHistory kind
HISTORY_RETENTION = "HistoryRetention"
RETENTION_REASON = "retention"
COVERAGE_RECORD = "the history coverage record"


def history_label(table: str) -> str:
    """Return the name table `table`'s history table goes by in maintenance records."""
    return f"{HISTORY_DIR}/{table}"


@dataclass(frozen=True)
class HistoryRetentionPlan:
    """Which history rows retention deletes, and the coverage its commit then records."""

    cutoff: dt.datetime
    coverage: Coverage
    first_kept: int  # the new history_from: every row of an older version goes
    rows: int  # history rows to delete

    def describe(self, *, dry_run: bool) -> str:
        """Return the plan as audit detail text."""
        verb = "would delete" if dry_run else "deleted"
        return (
            f"{verb} {self.rows:,} history row(s) changed before {self.cutoff:%Y-%m-%d %H:%M} "
            f"UTC; history_from {self.coverage.first} -> {self.first_kept}"
        )


def plan_history_retention(
    delta: DeltaTable, days: int, now: dt.datetime
) -> HistoryRetentionPlan | None:
    """Return what retention of `days` days deletes, or None when no coverage is recorded.

    Every version older than the oldest version with a row changed since the cutoff goes,
    so the history left is one unbroken run of versions (ChangedAt is the same for every
    row of one version, and grows with it).
    """
    coverage = coverage_of(delta)
    if coverage is None:
        return None
    cutoff = now.astimezone(dt.UTC) - dt.timedelta(days=days)
    dataset = delta.to_pyarrow_dataset()
    stamp = pa.scalar(cutoff, dataset.schema.field(CHANGED_AT).type)
    oldest_recent = _min_version(dataset, pc.field(CHANGED_AT) >= stamp)
    first_kept = coverage.through + 1 if oldest_recent is None else oldest_recent
    # Never claim more than the coverage held.
    first_kept = max(first_kept, coverage.first)
    rows = dataset.count_rows(filter=pc.field(BRONZE_VERSION) < first_kept)
    return HistoryRetentionPlan(cutoff, coverage, first_kept, rows)


def apply_history_retention(
    delta: DeltaTable, days: int, now: dt.datetime, *, dry_run: bool
) -> OperationResult:
    """Delete history rows older than `days` days in one commit that records the coverage."""
    result = OperationResult(HISTORY_RETENTION)
    result.details.append(f"history_retention_days={days}")
    plan = plan_history_retention(delta, days, now)
    if plan is None:
        result.status = SKIPPED
        result.details.append("no coverage record in the history table; nothing deleted")
        return result
    result.rows_deleted = plan.rows
    if not plan.rows:
        result.details.append(f"no history row changed before {plan.cutoff:%Y-%m-%d %H:%M} UTC")
        return result
    result.details.append(plan.describe(dry_run=dry_run))
    if dry_run:
        return result
    start = time.perf_counter()
    kept = Coverage(plan.first_kept, plan.coverage.through, settled=True)
    metadata = coverage_metadata(kept, RETENTION_REASON)
    metrics = delta.delete(
        f"{quote_delta(BRONZE_VERSION)} < {plan.first_kept}",
        commit_properties=CommitProperties(custom_metadata=metadata),
    )
    result.rows_deleted = int(metrics.get("num_deleted_rows", plan.rows))
    result.files_removed = int(metrics.get("num_removed_files", 0))
    result.files_added = int(metrics.get("num_added_files", 0))
    result.seconds = time.perf_counter() - start
    return result


def maintain_history(
    store: BronzeStore,
    table: TableConfig,
    *,
    dry_run: bool,
    now: dt.datetime,
) -> TableOutcome | None:
    """Apply retention, VACUUM, OPTIMIZE and clean the log of table `table`'s history table.

    Returns None when the table has no history table yet. `now` is the wall clock (the
    clock of the Delta commit times ChangedAt holds). Callers hold the table's lease.
    """
    label = history_label(table.name)
    try:
        uri = history_uri(store, table.name)
        if not store.exists(uri):
            log.debug("no history table for %s yet: maintenance skips it", table.name)
            return None
        outcome = TableOutcome(label, HISTORY, before=measure(store, uri))
    except Exception as exc:  # the bronze table's outcome stands; report this one as failed
        message = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        failed = OperationResult(VACUUM, FAILED, error=f"cannot open the history table: {message}")
        return TableOutcome(label, HISTORY, operations=[failed])

    def vacuum(delta: DeltaTable) -> OperationResult:
        # No checkpoint pins a history table: plain retention, no kept versions.
        plan = plan_vacuum(store, delta, label, table, [], strategy=RETENTION, wall_now=now)
        return vacuum_table(store, delta, plan, dry_run=dry_run)

    steps: list[Step] = []
    days = table.history_retention_days
    if days is not None:
        steps.append(
            (
                HISTORY_RETENTION,
                True,
                lambda d: apply_history_retention(d, days, now, dry_run=dry_run),
            )
        )
    steps += [
        (VACUUM, table.enable_vacuum, vacuum),
        (OPTIMIZE, table.enable_optimize, lambda d: optimize_table(d, label, [], dry_run=dry_run)),
        (LOG_CLEANUP, True, lambda d: _cleanup_log(store, d, label, now, dry_run=dry_run)),
    ]
    run_steps(store, uri, outcome, steps)
    for op in outcome.operations:
        op.details.insert(0, f"history table of {table.name}")
    return outcome


def _cleanup_log(
    store: BronzeStore, delta: DeltaTable, label: str, now: dt.datetime, *, dry_run: bool
) -> OperationResult:
    """Clean the log, keeping the newest commit that records the coverage readable."""
    found = coverage_commit(delta, store.options())
    pins = [] if found is None else [Pin(found[0], (COVERAGE_RECORD,))]
    plan = plan_log_cleanup(store, delta, label, pins, now)
    if not plan.safe:
        # Nothing to alert about: the next history append records the coverage anew.
        result = OperationResult(LOG_CLEANUP, SKIPPED, details=[plan.reason or ""])
        result.details.append("the next sync's history append records the coverage anew")
        return result
    return cleanup_log(delta, plan, dry_run=dry_run)


def _min_version(dataset: pads.Dataset, where: pc.Expression) -> int | None:
    """Return the smallest BronzeVersion of the rows `where` selects (None: no row)."""
    low: int | None = None
    for batch in dataset.scanner(columns=[BRONZE_VERSION], filter=where).to_batches():
        if batch.num_rows:
            value = pc.min(batch.column(0)).as_py()
            if value is not None:
                low = value if low is None else min(low, value)
    return low
