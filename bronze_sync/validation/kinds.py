"""Checks that only some table kinds need: one latest version per business key (scd2)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.bronze.tracking import IS_DELETED, IS_PURGED
from bronze_sync.config.kinds import SCD2
from bronze_sync.rows.keys import sample_keys
from bronze_sync.validation.model import CheckContext, CheckResult, CheckSeverity

NAME = "scd2_single_latest"


def scd2_single_latest(ctx: CheckContext) -> CheckResult:
    """Check that every business key with an active version has exactly one latest version."""
    table = ctx.table
    if table.kind != SCD2 or not table.latest_column:
        return CheckResult(
            NAME, table.name, CheckSeverity.ERROR, True, f"skipped: kind {table.kind}", skipped=True
        )
    business, latest = list(table.business_key), table.latest_column
    rows = ctx.rows
    active = rows.filter(pc.invert(pc.or_(rows.column(IS_DELETED), rows.column(IS_PURGED))))
    flag = pc.cast(pc.fill_null(pc.cast(active.column(latest), pa.bool_()), False), pa.int64())
    counted = active.select(business).append_column("__latest", flag)
    grouped = counted.group_by(business).aggregate([("__latest", "sum")])
    wrong = grouped.filter(pc.not_equal(grouped.column("__latest_sum"), 1))
    figures = {"business_keys": grouped.num_rows, "not_exactly_one_latest": wrong.num_rows}
    if not wrong.num_rows:
        message = f"each of the {grouped.num_rows:,} business keys has exactly one latest version"
        return CheckResult(NAME, table.name, CheckSeverity.ERROR, True, message, figures)
    message = (
        f"{wrong.num_rows:,} business key(s) do not have exactly one latest version "
        f"(first: {sample_keys(wrong, business)}); bronze mirrors the source, check its "
        f"{latest} flags"
    )
    return CheckResult(NAME, table.name, CheckSeverity.ERROR, False, message, figures)
