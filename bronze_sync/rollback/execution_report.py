"""The reports of an executed rollback: state snapshots, comparison and validation reports.

RollbackValidationReports holds one row per table, for SQL and for people: header
(checkpoint, time, who, tables), pre/post metrics (versions, counts), the delta analysis
(what changed, as percentages), the quality assessment (verdict, score, issues, the orphan
checks of the table's references) and recommendations, plus a JSON blob with the details.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.schemas import (
    ROLLBACK_COMPARISON_REPORTS,
    ROLLBACK_STATE_SNAPSHOTS,
    TS,
    register_schema,
)
from bronze_sync.rollback import reports
from bronze_sync.rollback.compare import Comparison
from bronze_sync.rollback.execute import RestoreResult
from bronze_sync.rollback.impact import TableImpact
from bronze_sync.rollback.integrity import OrphanCheck
from bronze_sync.rollback.postcheck import PostCheck
from bronze_sync.rollback.reports import ReportContext

if TYPE_CHECKING:
    from bronze_sync.rollback.service import RollbackOutcome

ROLLBACK_VALIDATION_REPORTS = "RollbackValidationReports"

register_schema(
    ROLLBACK_VALIDATION_REPORTS,
    pa.schema(
        [
            ("ReportId", pa.string()),
            ("RollbackId", pa.string()),
            ("PipelineRunId", pa.string()),
            ("CheckpointName", pa.string()),
            ("TriggeredBy", pa.string()),
            ("TablesAffected", pa.string()),
            ("TableName", pa.string()),
            ("VersionBefore", pa.int64()),
            ("VersionAfter", pa.int64()),
            ("RowsBefore", pa.int64()),
            ("RowsAfter", pa.int64()),
            ("ActiveBefore", pa.int64()),
            ("ActiveAfter", pa.int64()),
            ("DeletedAfter", pa.int64()),
            ("PurgedAfter", pa.int64()),
            ("RowsRemoved", pa.int64()),
            ("RowsReappearing", pa.int64()),
            ("ValueChanges", pa.int64()),
            ("PercentLost", pa.float64()),
            ("PercentRestored", pa.float64()),
            ("PercentUnchanged", pa.float64()),
            ("ValidationStatus", pa.string()),
            ("QualityScore", pa.int64()),
            ("OrphanRows", pa.int64()),
            ("Issues", pa.string()),
            ("Recommendations", pa.string()),
            ("Detail", pa.string()),
            ("CreatedDate", TS),
        ]
    ),
)


@dataclass(frozen=True)
class TableVerdict:
    """Everything known about one table after its restore."""

    result: RestoreResult
    impact: TableImpact
    check: PostCheck | None
    orphans: Sequence[OrphanCheck]
    issues: Sequence[str]
    score: int


def validation_row(
    ctx: ReportContext, tables: Sequence[str], verdict: TableVerdict
) -> dict[str, Any]:
    """Return the RollbackValidationReports row of one table."""
    c, result = verdict.impact.comparison, verdict.result
    counts = verdict.check.counts if verdict.check is not None else c.counts_from
    base = max(c.counts_from["total"], 1)
    status = "Pass" if result.success and not verdict.issues else "Fail"
    orphans = sum(o.orphans for o in verdict.orphans)
    detail = {
        "transitions": c.transitions,
        "samples": c.samples,
        "expected_counts": c.counts_to,
        "counts_after": counts,
        "references": [o.describe() for o in verdict.orphans],
        "restore_error": result.error,
        "restore_seconds": round(result.seconds, 3),
    }
    return {
        "ReportId": str(uuid.uuid4()),
        "RollbackId": ctx.rollback_id,
        "PipelineRunId": ctx.run_id,
        "CheckpointName": ctx.checkpoint_name,
        "TriggeredBy": ctx.requested_by,
        "TablesAffected": ",".join(tables),
        "TableName": result.table,
        "VersionBefore": c.from_version,
        "VersionAfter": result.new_version,
        "RowsBefore": c.counts_from["total"],
        "RowsAfter": counts.get("total"),
        "ActiveBefore": c.counts_from["active"],
        "ActiveAfter": counts.get("active"),
        "DeletedAfter": counts.get("deleted"),
        "PurgedAfter": counts.get("purged"),
        "RowsRemoved": c.removed,
        "RowsReappearing": c.reappearing,
        "ValueChanges": c.value_changes,
        "PercentLost": round(100 * c.removed / base, 2),
        "PercentRestored": round(100 * c.restored / base, 2),
        "PercentUnchanged": round(100 * c.unchanged / base, 2),
        "ValidationStatus": status,
        "QualityScore": verdict.score,
        "OrphanRows": orphans,
        "Issues": json.dumps(list(verdict.issues)),
        "Recommendations": recommendation(verdict),
        "Detail": json.dumps(detail, sort_keys=True, default=str),
        "CreatedDate": ctx.now,
    }


def recommendation(verdict: TableVerdict) -> str:
    """Return the next step for an operator, given what the checks found."""
    table = verdict.result.table
    if not verdict.result.success:
        return (
            f"the restore of {table} failed and the table is unchanged: fix the error and run "
            "the dry run again"
        )
    steps = []
    if verdict.check is not None and not verdict.check.passed:
        steps.append(
            "the restored counts differ from the checkpoint: run `bronze-sync checkpoints "
            "validate`; the post-rollback checkpoint undoes this rollback"
        )
    if any(not o.passed for o in verdict.orphans):
        steps.append(
            "rows reference parents the restored versions do not hold: roll back the related "
            "tables to the same checkpoint (--tables), or let the next sync restore the parents"
        )
    if not steps:
        steps.append("none: the next daily sync brings the table up to date with the source")
    return "; ".join(steps)


def record_execution(
    store: BronzeStore,
    meta: MetadataStore,
    ctx: reports.ReportContext,
    outcome: RollbackOutcome,
    keys: dict[str, list[str]],
) -> None:
    """Write the post-restore snapshots, the Executed comparison and the validation rows."""
    checks = {c.table: c for c in outcome.checks}
    planned = {t.table: t for t in outcome.plan.report.tables}
    tables = [r.table for r in outcome.results]
    snapshots, rows, verdicts = [], [], []
    for result in outcome.results:
        impact = planned[result.table]
        mine = [o for o in outcome.orphans if _owner(o, tables) == result.table]
        if not result.success or result.new_version is None:
            found = [f"restore failed: {result.error}"]
            rows.append(_executed_row(ctx, _unchanged(impact), None, found, 0))
            verdicts.append(TableVerdict(result, impact, None, mine, found, 0))
            continue
        snapshots.append(
            reports.snapshot_row(
                store, result.table, result.new_version, keys[result.table], reports.POST, ctx
            )
        )
        check = checks[result.table]
        # A restore makes the table the pinned version exactly, so the executed comparison is
        # the planned one at the new version; the post-check (counts against the checkpoint,
        # keys, flags, read from the restored table) reports any difference as a problem.
        # Re-joining both versions would double the run time.
        executed = dataclasses.replace(
            impact.comparison, to_version=result.new_version, counts_to=dict(check.counts)
        )
        found = [*check.problems, *(o.describe() for o in mine if not o.passed)]
        score = reports.quality_score(True, check.passed, len(found))
        rows.append(_executed_row(ctx, executed, result.new_version, found, score))
        verdicts.append(TableVerdict(result, impact, check, mine, found, score))
    meta.append(ROLLBACK_STATE_SNAPSHOTS, snapshots)
    meta.append(ROLLBACK_COMPARISON_REPORTS, rows)
    meta.append(ROLLBACK_VALIDATION_REPORTS, [validation_row(ctx, tables, v) for v in verdicts])


def _owner(check: OrphanCheck, tables: Sequence[str]) -> str:
    """Return the rolled-back table an orphan check reports under (the child when both are)."""
    ref = check.reference
    return ref.child if ref.child in tables else ref.parent


def _unchanged(impact: TableImpact) -> Comparison:
    """Return the comparison of a table whose restore failed: it stayed as it was."""
    now = impact.comparison.counts_from
    version = impact.target.current_version
    return Comparison(impact.table, version, version, now, now, unchanged=now["total"])


def _executed_row(
    ctx: reports.ReportContext,
    comparison: Comparison,
    new_version: int | None,
    found: list[str],
    score: int,
) -> dict[str, object]:
    status = "Failed" if new_version is None else ("Restored" if not found else "Anomalies")
    return reports.report_row(
        ctx,
        reports.EXECUTED,
        comparison,
        status=status,
        new_version=new_version,
        anomalies=found,
        quality=score,
    )
