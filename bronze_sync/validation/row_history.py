"""The row history is complete: every bronze version has exactly its changed rows there."""

from __future__ import annotations

from typing import Any

from deltalake import DeltaTable

from bronze_sync.bronze.commit import commit_fields
from bronze_sync.history.columns import history_uri
from bronze_sync.history.derive import NO_ROW_CHANGES
from bronze_sync.history.store import coverage_of, version_counts
from bronze_sync.validation.model import CheckContext, CheckResult, CheckSeverity

NAME = "history_complete"
SHOWN = 5


def history_complete(ctx: CheckContext) -> CheckResult:
    """Check that the history covers every bronze version with the commit's row counts."""
    assert ctx.delta is not None
    table = ctx.table.name
    latest = ctx.delta.version()
    history = ctx.store.open(history_uri(ctx.store, table))
    coverage = coverage_of(history, ctx.store.options()) if history is not None else None
    if history is None or coverage is None:
        return _verdict(
            ctx,
            False,
            f"no row history for bronze versions 0..{latest}: run `bronze-sync history "
            f"--backfill --tables {table}` (tables synced before history existed)",
            {"bronze_version": latest},
        )
    figures: dict[str, Any] = {
        "bronze_version": latest,
        "history_from": coverage.first,
        "history_through": coverage.through,
    }
    problems = []
    missing = _unrecorded(ctx.delta, coverage.through)
    if missing:
        problems.append(
            f"versions {missing[0]}..{missing[-1]} have no history rows (a run stopped "
            "between its commit and the history append, or another tool wrote); the next sync "
            "of the table repairs it"
        )
    if not coverage.settled:
        problems.append(
            f"versions 0..{coverage.first - 1} predate the history: run `bronze-sync history "
            f"--backfill --tables {table}`"
        )
    counts = version_counts(history)
    problems += _count_problems(ctx.delta, coverage.first, coverage.through, counts)
    figures["history_rows"] = sum(counts.values())
    if problems:
        return _verdict(ctx, False, "; ".join(problems), figures)
    message = (
        f"history holds versions {coverage.first}..{coverage.through} "
        f"({figures['history_rows']:,} rows), each with its commit's changed-row count"
    )
    return _verdict(ctx, True, message, figures)


def _unrecorded(delta: DeltaTable, through: int) -> list[int]:
    """Return the versions after `through` that may have changed rows.

    OPTIMIZE, VACUUM and property commits change no row: until the next sync records them,
    they are not a gap.
    """
    newer = delta.version() - through
    if newer <= 0:
        return []
    return sorted(
        int(info["version"])
        for info in delta.history(newer)
        if info.get("operation") not in NO_ROW_CHANGES
    )


def _count_problems(
    delta: DeltaTable, first: int, through: int, counts: dict[int, int]
) -> list[str]:
    """Return a problem per version whose history rows differ from its commit's count."""
    if through < first:
        return []
    wrong = []
    for info in delta.history(delta.version() - first + 1):
        version = int(info["version"])
        if version > through or version < first:
            continue
        expected = _expected_rows(delta, version, info)
        found = counts.get(version, 0)
        if expected is not None and expected != found:
            wrong.append(f"v{version}: {found:,} history rows, the commit changed {expected:,}")
    outside = sorted(v for v in counts if v < first or v > through)
    problems = []
    if wrong:
        more = f" (+{len(wrong) - SHOWN} more)" if len(wrong) > SHOWN else ""
        problems.append("history row counts differ: " + "; ".join(wrong[:SHOWN]) + more)
    if outside:
        problems.append(f"history rows name versions outside {first}..{through}: {outside[:SHOWN]}")
    return problems


def _expected_rows(delta: DeltaTable, version: int, info: dict[str, Any]) -> int | None:
    """Return how many rows a commit changed, where its metadata or log says so."""
    fields = commit_fields(info)
    if "changed_rows" in fields:
        return int(fields["changed_rows"])
    if fields.get("mode") == "initial":
        metrics = info.get("operationMetrics") or {}
        if "num_added_rows" in metrics:
            return int(metrics["num_added_rows"])
    return None


def _verdict(ctx: CheckContext, passed: bool, message: str, figures: dict[str, Any]) -> CheckResult:
    return CheckResult(NAME, ctx.table.name, CheckSeverity.ERROR, passed, message, figures)
