"""ERROR checks over the bronze table itself: counts, keys, flags, the purge rule."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.bronze.tracking import (
    DELETED_DATE,
    IS_DELETED,
    IS_PURGED,
    PURGED_DATE,
    SYNC_OPERATION,
    SyncOp,
)
from bronze_sync.clock import as_utc
from bronze_sync.rows.values import as_timestamps
from bronze_sync.sync.changes import RETAINED_COLUMN
from bronze_sync.validation.model import CheckContext, CheckResult, CheckSeverity, count_true

ERROR = CheckSeverity.ERROR
LIVE_OPS = pa.array([SyncOp.INSERT.value, SyncOp.UPDATE.value, SyncOp.UNDELETE.value])


def counts_consistent(ctx: CheckContext) -> CheckResult:
    """Check that total = active + deleted + purged and that no row is flagged twice."""
    c = ctx.counts
    deleted, purged = ctx.rows.column(IS_DELETED), ctx.rows.column(IS_PURGED)
    both = count_true(pc.and_(deleted, purged))
    active = c["total"] - count_true(pc.or_(deleted, purged))
    ok = active + c["deleted"] + c["purged"] == c["total"]
    figures = {**c, "active": active, "flagged_twice": both}
    message = (
        f"total {c['total']:,} = active {active:,} + deleted {c['deleted']:,} "
        f"+ purged {c['purged']:,}"
        if ok
        else f"total {c['total']:,} != active {active:,} + deleted {c['deleted']:,} + purged "
        f"{c['purged']:,} ({both:,} row(s) both deleted and purged)"
    )
    return CheckResult("counts_consistent", ctx.table.name, ERROR, ok, message, figures)


def primary_key_not_null(ctx: CheckContext) -> CheckResult:
    """Check that no key column holds a null."""
    nulls = {k: ctx.rows.column(k).null_count for k in ctx.table.primary_key}
    bad = sum(nulls.values())
    message = (
        "no null key values"
        if not bad
        else "null key values: " + ", ".join(f"{k}={n:,}" for k, n in nulls.items() if n)
    )
    figures = {"null_keys": bad, **{f"null_{k}": n for k, n in nulls.items()}}
    return CheckResult("primary_key_not_null", ctx.table.name, ERROR, not bad, message, figures)


def primary_key_unique(ctx: CheckContext) -> CheckResult:
    """Check that every key appears in exactly one bronze row."""
    keys = ctx.table.primary_key
    grouped = ctx.rows.select(keys).group_by(keys).aggregate([([], "count_all")])
    dup = grouped.filter(pc.greater(grouped.column("count_all"), 1))
    extra = int(pc.sum(dup.column("count_all")).as_py() or 0) - dup.num_rows
    sample = ", ".join(str(v) for v in dup.slice(0, 3).column(keys[0]).to_pylist())
    message = (
        "every key is unique"
        if not dup.num_rows
        else f"{dup.num_rows:,} key(s) appear more than once ({extra:,} extra rows), e.g. {sample}"
    )
    figures = {"duplicate_keys": dup.num_rows, "extra_rows": extra}
    return CheckResult(
        "primary_key_unique", ctx.table.name, ERROR, not dup.num_rows, message, figures
    )


def tracking_flags_consistent(ctx: CheckContext) -> CheckResult:
    """Check flags against dates and SyncOperation; never deleted and purged together."""
    rows = ctx.rows
    deleted, purged = rows.column(IS_DELETED), rows.column(IS_PURGED)
    op = rows.column(SYNC_OPERATION)
    problems = {
        "deleted_and_purged": pc.and_(deleted, purged),
        "deleted_date_mismatch": pc.not_equal(deleted, pc.is_valid(rows.column(DELETED_DATE))),
        "purged_date_mismatch": pc.not_equal(purged, pc.is_valid(rows.column(PURGED_DATE))),
        "operation_mismatch": _op_mismatch(deleted, purged, op),
    }
    figures = {name: count_true(mask) for name, mask in problems.items()}
    bad = {k: v for k, v in figures.items() if v}
    message = (
        "flags, dates and SyncOperation agree"
        if not bad
        else "inconsistent tracking columns: " + ", ".join(f"{k}={v:,}" for k, v in bad.items())
    )
    return CheckResult(
        "tracking_flags_consistent", ctx.table.name, ERROR, not bad, message, figures
    )


def _op_mismatch(
    deleted: pa.ChunkedArray, purged: pa.ChunkedArray, op: pa.ChunkedArray
) -> pa.ChunkedArray:
    # Rows from before the tracking columns carry no operation: only a set value can disagree.
    expected_deleted = pc.equal(op, SyncOp.DELETE.value)
    expected_purged = pc.equal(op, SyncOp.PURGE.value)
    live = pc.is_in(op, value_set=LIVE_OPS)
    agrees = pc.if_else(
        deleted,
        expected_deleted,
        pc.if_else(purged, expected_purged, live),
    )
    return pc.and_(pc.is_valid(op), pc.invert(pc.fill_null(agrees, False)))


def _retained(rows: pa.Table) -> pa.ChunkedArray | pa.Array:
    """Return per row whether the source moved it to long-term retention (Dataverse)."""
    if RETAINED_COLUMN not in rows.column_names:
        return pa.repeat(False, rows.num_rows)
    return pc.fill_null(pc.equal(rows.column(RETAINED_COLUMN), 1), False)


def purge_rule_respected(ctx: CheckContext) -> CheckResult:
    """Check that every IsPurged row predates LastPurgeDate or went to long-term retention."""
    purged = ctx.rows.column(IS_PURGED)
    flagged = count_true(purged)
    last_purge = ctx.config_row.get("LastPurgeDate")
    created_column = ctx.table.created_column
    figures: dict[str, object] = {
        "purged_rows": flagged,
        "last_purge_date": last_purge.isoformat() if last_purge else None,
    }
    retained = _retained(ctx.rows)
    if created_column is None or created_column not in ctx.rows.column_names or last_purge is None:
        allowed = retained  # no recorded purge (or no creation date): only retention purges
    else:
        created = as_timestamps(ctx.rows.column(created_column))
        before = pc.less(created, pa.scalar(as_utc(last_purge), created.type))
        allowed = pc.or_(pc.fill_null(before, False), retained)
    violations = count_true(pc.and_(purged, pc.invert(allowed)))
    figures["retained_purges"] = count_true(pc.and_(purged, retained))
    figures["violations"] = violations
    if not violations:
        message = (
            f"{flagged:,} purged row(s), all created before the recorded purge date "
            "or moved to long-term retention"
        )
    elif last_purge is None:
        message = f"{violations:,} row(s) flagged IsPurged but no purge is recorded"
    else:
        message = (
            f"{violations:,} IsPurged row(s) created on or after LastPurgeDate "
            f"{last_purge.date()} (or without {created_column})"
        )
    return CheckResult(
        "purge_rule_respected", ctx.table.name, ERROR, not violations, message, figures
    )
