"""Run the checks over bronze tables and record every evaluation in DataValidation."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import replace

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.clock import utc_now
from bronze_sync.config.models import Config, TableConfig
from bronze_sync.errors import BronzeError
from bronze_sync.metadata import MetadataStore, RunInfo, ValidationRecord
from bronze_sync.metadata.audit import write_validation
from bronze_sync.validation import audit, fabric, history, integrity, kinds, row_history
from bronze_sync.validation.model import CheckContext, CheckResult, CheckSeverity

Check = Callable[[CheckContext], CheckResult]

CHECKS: dict[str, tuple[CheckSeverity, Check]] = {
    "counts_consistent": (CheckSeverity.ERROR, integrity.counts_consistent),
    "primary_key_not_null": (CheckSeverity.ERROR, integrity.primary_key_not_null),
    "primary_key_unique": (CheckSeverity.ERROR, integrity.primary_key_unique),
    "tracking_flags_consistent": (CheckSeverity.ERROR, integrity.tracking_flags_consistent),
    "purge_rule_respected": (CheckSeverity.ERROR, integrity.purge_rule_respected),
    "source_reconciled": (CheckSeverity.ERROR, history.source_reconciled),
    "audit_complete": (CheckSeverity.ERROR, audit.audit_complete),
    "history_complete": (CheckSeverity.ERROR, row_history.history_complete),
    "scd2_single_latest": (CheckSeverity.ERROR, kinds.scd2_single_latest),
    "checkpoint_recorded": (CheckSeverity.ERROR, history.checkpoint_recorded),
    "fabric_readable": (CheckSeverity.ERROR, fabric.fabric_readable),
    "fresh": (CheckSeverity.WARN, history.fresh),
    "delete_spike": (CheckSeverity.WARN, history.delete_spike),
    "unexpected_purge": (CheckSeverity.WARN, history.unexpected_purge),
}
# Checks that read the table's rows; they fail when the table does not exist.
TABLE_CHECKS = {
    "counts_consistent",
    "primary_key_not_null",
    "primary_key_unique",
    "tracking_flags_consistent",
    "purge_rule_respected",
    "source_reconciled",
    "audit_complete",
    "history_complete",
    "scd2_single_latest",
    "fabric_readable",
}


def evaluate_table(
    store: BronzeStore,
    meta: MetadataStore,
    table: TableConfig,
    now: dt.datetime,
    names: Sequence[str] | None = None,
) -> list[CheckResult]:
    """Run the named checks (default: all) on one table without recording them."""
    ctx = CheckContext(store, meta, table, now)
    results = [_evaluate(ctx, name) for name in names or list(CHECKS)]
    try:
        with store.reading(store.table_uri(table.name)):
            counts = dict(ctx.counts)
    except BronzeError:
        counts = {}
    return [replace(r, counts=counts) for r in results]


def _evaluate(ctx: CheckContext, name: str) -> CheckResult:
    """Return one check's result; a table that cannot be read fails it with the reason."""
    severity, check = CHECKS[name]
    table = ctx.table.name
    uri = ctx.store.table_uri(table)
    try:
        if name in TABLE_CHECKS and ctx.delta is None:
            return CheckResult(name, table, severity, False, "bronze table does not exist yet")
        with ctx.store.reading(uri) if name in TABLE_CHECKS else contextlib.nullcontext():
            return check(ctx)
    except BronzeError as exc:
        # A damaged table fails its own checks only; the other tables are still checked.
        reason = str(exc).removeprefix(f"{table}: ")
        return CheckResult(name, table, severity, False, f"unreadable: {reason}")


def record_results(
    meta: MetadataStore,
    results: Sequence[CheckResult],
    run_id: str,
    now: dt.datetime,
) -> None:
    """Append one DataValidation row per evaluation (ValidationContext = check name)."""
    records = []
    empty = {"total": 0, "active": 0, "deleted": 0, "purged": 0}
    for r in results:
        c = r.counts or empty
        source = r.figures.get("source_rows")
        records.append(
            ValidationRecord(
                table=r.table,
                context=r.check,
                passed=r.passed,
                total=c["total"],
                active=c["active"],
                deleted=c["deleted"],
                purged=c["purged"],
                source_rows=source if isinstance(source, int) else None,
                notes=f"[{r.severity.value}] {r.message} | {json.dumps(r.figures, default=str)}",
            )
        )
    write_validation(meta, RunInfo(run_id=run_id, pipeline_name="validate"), records, now)


def validate_tables(
    config: Config,
    tables: Sequence[str] | None = None,
    run_id: str = "validate",
    now: dt.datetime | None = None,
    names: Sequence[str] | None = None,
) -> list[CheckResult]:
    """Run the checks on the selected tables, record them, and return every result."""
    store = BronzeStore.from_config(config.bronze)
    meta = MetadataStore(store)
    now = now or utc_now()
    results: list[CheckResult] = []
    for table in config.select_tables(list(tables) if tables else None):
        results.extend(evaluate_table(store, meta, table, now, names))
    record_results(meta, results, run_id, now)
    return results
