"""Failed runs and checks: audit rows a crashed run could not write, and one alert per run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl
import pyarrow.compute as pc

from bronze_sync.alerts import Alert, Severity
from bronze_sync.alerts.content import TableFailure, failure_alert
from bronze_sync.metadata import AuditEntry, MetadataStore, RunInfo
from bronze_sync.metadata.audit import write_audit
from bronze_sync.metadata.schemas import CHECKPOINT_HISTORY, SYNC_AUDIT_LOG
from bronze_sync.rows.values import frame

CHECKPOINT_TYPES = ["Daily", "DailyBatch"]
CHECKPOINT_ALERT_DAYS = 3


def record_run_failure(
    meta: MetadataStore, run: RunInfo, failures: Sequence[TableFailure], now: dt.datetime
) -> list[str]:
    """Write a Failed row for each failed table the run did not record; return those tables."""
    audit = meta.read(SYNC_AUDIT_LOG, ["PipelineRunId", "TableName", "Status"])
    mine = audit.filter(
        pc.and_(
            pc.fill_null(pc.equal(audit.column("PipelineRunId"), run.run_id), False),
            pc.fill_null(pc.equal(audit.column("Status"), "Failed"), False),
        )
    )
    recorded = set(mine.column("TableName").to_pylist())
    missing = [f for f in failures if f.table not in recorded]
    entries = [
        AuditEntry(
            "DataSync",
            f.table,
            now,
            now,
            status="Failed",
            error=f.message,
            notes=f"{f.error_class}; recorded by the run failure sensor",
        )
        for f in missing
    ]
    write_audit(meta, run, entries, now)
    return [f.table for f in missing]


def run_failure_alert(run: RunInfo, failures: Sequence[TableFailure]) -> Alert:
    """Return the one HIGH alert of a failed run."""
    return failure_alert(run.pipeline_name, run.run_id, failures)


def check_failure_alert(run: RunInfo, failures: Sequence[TableFailure]) -> Alert:
    """Return the one CRITICAL alert for ERROR checks that failed in a run."""
    return failure_alert(
        run.pipeline_name,
        run.run_id,
        failures,
        severity=Severity.CRITICAL,
        what="failed ERROR checks",
    )


def checkpoint_failure_days(meta: MetadataStore, today: dt.date) -> list[dt.date]:
    """Return the consecutive days, up to `today`, with syncs but no validated checkpoint."""
    audit = frame(meta.read(SYNC_AUDIT_LOG, ["Operation", "CreatedDate"]))
    checkpoints = frame(
        meta.read(CHECKPOINT_HISTORY, ["CheckpointType", "ValidationStatus", "CreatedDate"])
    )
    sync_days = set(
        audit.filter(pl.col("Operation").is_in(["DataSync", "InitialSync"]))
        .select(pl.col("CreatedDate").dt.date())
        .to_series()
        .to_list()
    )
    good_days = set(
        checkpoints.filter(
            pl.col("CheckpointType").is_in(CHECKPOINT_TYPES)
            & (pl.col("ValidationStatus") == "Validated")
        )
        .select(pl.col("CreatedDate").dt.date())
        .to_series()
        .to_list()
    )
    streak: list[dt.date] = []
    for day in sorted((d for d in sync_days if d <= today), reverse=True):
        if day in good_days:
            break
        streak.append(day)
    return sorted(streak)


def checkpoint_streak_alert(days: Sequence[dt.date]) -> Alert | None:
    """Return a HIGH alert when checkpoints failed on 3+ consecutive sync days."""
    if len(days) < CHECKPOINT_ALERT_DAYS:
        return None
    listed = ", ".join(d.isoformat() for d in days)
    return Alert(
        severity=Severity.HIGH,
        subject=f"checkpoint creation failed on {len(days)} consecutive sync days",
        body=f"Syncs ran but no validated Daily/DailyBatch checkpoint was recorded on: {listed}.",
        job="checkpoints",
        error_class="CheckpointStreak",
        first_steps=(
            "List recent checkpoints: bronze-sync checkpoints --all (look at ValidationStatus).",
            "Validate them: bronze-sync checkpoints validate.",
            "Check that VACUUM/retention did not remove the pinned versions' files.",
        ),
    )
