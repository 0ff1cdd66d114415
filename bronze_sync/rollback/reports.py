"""RollbackStateSnapshots and RollbackComparisonReports rows, and the quality score."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bronze_sync.bronze.reader import count_flags
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.rollback.compare import Comparison, format_keys
from bronze_sync.rows.values import frame

SNAPSHOT_KEYS = 100
PRE, POST = "Pre", "Post"
PLANNED, EXECUTED = "Planned", "Executed"


@dataclass(frozen=True)
class ReportContext:
    """Who asked for which rollback, for every report row."""

    rollback_id: str
    run_id: str
    checkpoint_id: str
    checkpoint_name: str
    requested_by: str
    reason: str | None
    dry_run: bool
    now: dt.datetime


def snapshot_row(
    store: BronzeStore,
    table: str,
    version: int,
    key_cols: Sequence[str],
    kind: str,
    ctx: ReportContext,
) -> dict[str, Any]:
    """Return the RollbackStateSnapshots row of one table version (counts, 100 sample keys)."""
    counts: dict[str, int] = {}
    sample: list[str] = []
    try:
        delta = store.open(store.table_uri(table), version=version)
        if delta is not None:
            counts = count_flags(delta)
            keys = delta.to_pyarrow_dataset().head(SNAPSHOT_KEYS, columns=list(key_cols))
            sample = format_keys(frame(keys), key_cols)
    except Exception:  # an unreadable table: a snapshot without counts
        counts, sample = {}, []
    return {
        "SnapshotId": str(uuid.uuid4()),
        "RollbackId": ctx.rollback_id,
        "PipelineRunId": ctx.run_id,
        "SnapshotType": kind,
        "CheckpointName": ctx.checkpoint_name,
        "TableName": table,
        "DeltaVersion": version,
        "TotalRows": counts.get("total"),
        "ActiveRows": counts.get("active"),
        "DeletedRows": counts.get("deleted"),
        "PurgedRows": counts.get("purged"),
        "SampleKeys": json.dumps(sample),
        "CreatedDate": ctx.now,
    }


def report_row(
    ctx: ReportContext,
    kind: str,
    comparison: Comparison,
    *,
    status: str,
    risk: str | None = None,
    new_version: int | None = None,
    anomalies: Sequence[str] = (),
    quality: int | None = None,
    token_digest: str | None = None,
    notes: str | None = None,
) -> dict[str, Any]:
    """Return one RollbackComparisonReports row (planned: current vs checkpoint version)."""
    c = comparison
    return {
        "ReportId": str(uuid.uuid4()),
        "RollbackId": ctx.rollback_id,
        "PipelineRunId": ctx.run_id,
        "ReportType": kind,
        "CheckpointId": ctx.checkpoint_id,
        "CheckpointName": ctx.checkpoint_name,
        "TableName": c.table,
        "CurrentVersion": c.from_version,
        "CheckpointVersion": c.to_version if kind == PLANNED else None,
        "NewVersion": new_version,
        "RowsNow": c.counts_from["total"],
        "RowsThen": c.counts_to["total"],
        "RowsRestored": c.restored,
        "RowsRemoved": c.removed,
        "RowsReappearing": c.reappearing,
        "ValueChanges": c.value_changes,
        "RowsUnchanged": c.unchanged,
        "StateTransitions": json.dumps(c.transitions, sort_keys=True),
        "RiskLevel": risk,
        "Anomalies": "; ".join(anomalies) or None,
        "QualityScore": quality,
        "Status": status,
        "DryRun": ctx.dry_run,
        "ApprovalTokenHash": token_digest,
        "RequestedBy": ctx.requested_by,
        "Reason": ctx.reason,
        "Notes": notes,
        "CreatedDate": ctx.now,
    }


def quality_score(restored: bool, validation_passed: bool, anomaly_count: int) -> int:
    """Return 0-100: 0 for a failed restore, minus 50 for failed validation, 10 per anomaly."""
    if not restored:
        return 0
    score = 100 - (0 if validation_passed else 50) - 10 * anomaly_count
    return max(0, min(100, score))
