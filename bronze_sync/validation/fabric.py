"""The fabric_readable check: a bronze table keeps a Delta protocol Microsoft Fabric reads."""

from __future__ import annotations

from bronze_sync.bronze.protocol import protocol_report
from bronze_sync.validation.model import CheckContext, CheckResult, CheckSeverity

NAME = "fabric_readable"


def fabric_readable(ctx: CheckContext) -> CheckResult:
    """Check that no Delta feature of the table stops a Fabric SQL endpoint or Direct Lake."""
    assert ctx.delta is not None  # the runner fails table checks of a missing table first
    report = protocol_report(ctx.delta)
    figures = report.figures()
    protocol = f"reader {report.reader_version}, writer {report.writer_version}"
    if report.fabric_readable:
        message = f"Fabric reads this table (protocol {protocol}, no unreadable feature)"
        return CheckResult(NAME, ctx.table.name, CheckSeverity.ERROR, True, message, figures)
    message = f"Fabric cannot read this table (protocol {protocol}): " + "; ".join(report.problems)
    return CheckResult(NAME, ctx.table.name, CheckSeverity.ERROR, False, message, figures)
