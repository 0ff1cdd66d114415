"""Past rollbacks (dry runs included), one line each, from RollbackComparisonReports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.schemas import ROLLBACK_COMPARISON_REPORTS
from bronze_sync.rollback.reports import EXECUTED


@dataclass(frozen=True)
class RollbackRecord:
    """One rollback request: when, to which checkpoint, by whom, why, and how it ended."""

    rollback_id: str
    created: dt.datetime
    checkpoint: str
    dry_run: bool
    tables: tuple[str, ...]
    status: str
    requested_by: str | None
    reason: str | None
    quality: int | None


def list_rollbacks(meta: MetadataStore, limit: int | None = None) -> list[RollbackRecord]:
    """Return past rollbacks, newest first."""
    groups: dict[str, list[dict]] = {}
    for row in meta.rows(ROLLBACK_COMPARISON_REPORTS):
        groups.setdefault(row["RollbackId"], []).append(row)
    records = [_record(rows) for rows in groups.values()]
    records.sort(key=lambda r: r.created, reverse=True)
    return records[:limit] if limit else records


def _record(rows: list[dict]) -> RollbackRecord:
    first = min(rows, key=lambda r: r["CreatedDate"])
    executed = [r for r in rows if r["ReportType"] == EXECUTED]
    if first["DryRun"]:
        status = "Dry run"
    elif not executed:
        status = "Not executed"
    else:
        statuses = {r["Status"] for r in executed}
        status = "Restored" if statuses == {"Restored"} else ", ".join(sorted(statuses))
    scores = [r["QualityScore"] for r in executed if r["QualityScore"] is not None]
    return RollbackRecord(
        rollback_id=first["RollbackId"],
        created=first["CreatedDate"],
        checkpoint=first["CheckpointName"],
        dry_run=bool(first["DryRun"]),
        tables=tuple(sorted({r["TableName"] for r in rows})),
        status=status,
        requested_by=first["RequestedBy"],
        reason=first["Reason"],
        quality=min(scores) if scores else None,
    )
