"""Run VACUUM, OPTIMIZE and log cleanup on one Delta table, with their metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
from deltalake import DeltaTable

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.errors import ConfigError
from bronze_sync.maintenance.safety import LogCleanupPlan, VacuumPlan, run_vacuum
from bronze_sync.maintenance.storage import measure

VACUUM = "Vacuum"
OPTIMIZE = "Optimize"
LOG_CLEANUP = "LogCleanup"
TARGET_FILE_SIZE = "delta.targetFileSize"
DEFAULT_TARGET_SIZE = 104_857_600  # deltalake's default OPTIMIZE target (100 MiB)


@dataclass
class OperationResult:
    """What one maintenance operation did (or, in a dry run, would do) to one table."""

    operation: str
    status: str = "Success"  # Success | Skipped | Warning | Failed
    seconds: float = 0.0
    files_removed: int = 0
    files_added: int = 0
    bytes_reclaimed: int = 0
    rows_deleted: int = 0  # history rows a HistoryRetention deleted (or would delete)
    details: list[str] = field(default_factory=list)
    error: str | None = None
    versions: list[int] = field(default_factory=list)  # the Delta versions it committed

    def notes(self) -> str:
        """Return the audit notes: duration, file and byte counts, then details."""
        head = (
            f"duration_s={self.seconds:.3f}; files_removed={self.files_removed}; "
            f"files_added={self.files_added}; bytes_reclaimed={self.bytes_reclaimed}"
        )
        if self.rows_deleted:
            head += f"; rows_deleted={self.rows_deleted}"
        return "; ".join([head, *self.details])


def vacuum_table(
    store: BronzeStore, delta: DeltaTable, plan: VacuumPlan, *, dry_run: bool
) -> OperationResult:
    """Run the planned full VACUUM unless the plan is unsafe (then a Warning, nothing removed)."""
    result = OperationResult(VACUUM)
    result.details.append(
        f"retention_hours={plan.retention_hours}; strategy={plan.strategy}; "
        f"kept_versions={[p.version for p in plan.pins]}"
    )
    if not plan.safe:
        result.status, result.error = "Warning", plan.reason
        return result
    if dry_run:
        result.files_removed = len(plan.candidates)
        result.details.append("dry run: would remove " + _sample(plan.candidates))
        return result
    start = time.perf_counter()
    before = measure(store, delta.table_uri).bytes
    removed = run_vacuum(delta, plan, dry_run=False)
    result.bytes_reclaimed = before - measure(store, delta.table_uri).bytes
    result.files_removed = len(removed)
    result.seconds = time.perf_counter() - start
    return result


def check_zorder(delta: DeltaTable, table: str, columns: Sequence[str]) -> list[str]:
    """Return `columns` if the bronze table has them all, else raise ConfigError naming them."""
    names = set(delta.schema().to_arrow().names)
    missing = [c for c in columns if c not in names]
    if missing:
        raise ConfigError(
            f"zorder_columns: column(s) {', '.join(missing)} not in the bronze table",
            table=table,
        )
    return list(columns)


def optimize_table(
    delta: DeltaTable, table: str, zorder: Sequence[str], *, dry_run: bool
) -> OperationResult:
    """Compact small files, then Z-order by `zorder` when given; dry run only counts."""
    result = OperationResult(OPTIMIZE)
    columns = check_zorder(delta, table, zorder)
    if dry_run:
        return _optimize_preview(delta, columns, result)
    start = time.perf_counter()
    metrics = [delta.optimize.compact()]
    result.details.append(f"compact: {_metrics(metrics[0])}")
    if columns:
        metrics.append(delta.optimize.z_order(columns))
        result.details.append(f"z_order({', '.join(columns)}): {_metrics(metrics[-1])}")
    result.files_added = sum(int(m.get("numFilesAdded", 0)) for m in metrics)
    result.files_removed = sum(int(m.get("numFilesRemoved", 0)) for m in metrics)
    result.seconds = time.perf_counter() - start
    return result


def cleanup_log(delta: DeltaTable, plan: LogCleanupPlan, *, dry_run: bool) -> OperationResult:
    """Write a Delta log checkpoint, then remove expired JSON commits (if the plan is safe)."""
    result = OperationResult(LOG_CLEANUP, files_removed=len(plan.expired))
    result.details.append(f"log_retention_days={plan.retention_days:g}")
    if not plan.safe:
        result.status, result.error, result.files_removed = "Warning", plan.reason, 0
        return result
    if dry_run:
        result.details.append("dry run: would remove " + _sample(plan.expired))
        return result
    start = time.perf_counter()
    delta.create_checkpoint()
    delta.cleanup_metadata()
    result.seconds = time.perf_counter() - start
    return result


def _optimize_preview(
    delta: DeltaTable, columns: list[str], result: OperationResult
) -> OperationResult:
    target = int((delta.metadata().configuration or {}).get(TARGET_FILE_SIZE, DEFAULT_TARGET_SIZE))
    actions = pa.table(delta.get_add_actions(flatten=True))
    sizes = actions.column("size_bytes").to_pylist() if actions.num_rows else []
    small = [s for s in sizes if s < target]
    compact = len(small) if len(small) > 1 else 0
    result.files_removed = len(sizes) if columns else compact
    result.details.append(
        f"dry run: would compact {compact} small file(s) ({sum(small) if compact else 0} bytes)"
        + (f", then z-order {len(sizes)} file(s) by {', '.join(columns)}" if columns else "")
    )
    return result


def _metrics(metrics: dict[str, object]) -> str:
    keep = ("numFilesAdded", "numFilesRemoved", "totalConsideredFiles", "totalFilesSkipped")
    return json.dumps({k: metrics.get(k) for k in keep}, sort_keys=True)


def _sample(paths: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(paths[:limit])
    more = f" (+{len(paths) - limit} more)" if len(paths) > limit else ""
    return f"{len(paths)} file(s)" + (f": {shown}{more}" if paths else "")
