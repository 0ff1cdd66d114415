"""The weekly maintenance run: retention, PreMaintenance checkpoint, per-table work, report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from deltalake import DeltaTable

from bronze_sync.alerts import Alert, Notifier, Severity, notifier_for
from bronze_sync.bronze.lease import LeaseRequest, hold_lease
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints.create import create_checkpoint
from bronze_sync.checkpoints.lifecycle import validate_active_checkpoints
from bronze_sync.checkpoints.model import Checkpoint, CheckpointType
from bronze_sync.config.models import Config, TableConfig
from bronze_sync.maintenance.history import maintain_history
from bronze_sync.maintenance.operations import (
    OPTIMIZE,
    VACUUM,
    OperationResult,
    cleanup_log,
    optimize_table,
    vacuum_table,
)
from bronze_sync.maintenance.retention import enforce_retention
from bronze_sync.maintenance.safety import (
    VacuumPlan,
    plan_log_cleanup,
    plan_vacuum,
    run_vacuum,
    table_pins,
)
from bronze_sync.maintenance.steps import Step, run_steps
from bronze_sync.maintenance.storage import append_history, measure
from bronze_sync.maintenance.summary import FAILED, WARNING, MaintenanceSummary, TableOutcome
from bronze_sync.metadata.audit import AuditEntry, RunInfo, write_audit
from bronze_sync.metadata.log_retention import trim_logs
from bronze_sync.metadata.schemas import SCHEMAS
from bronze_sync.metadata.store import MetadataStore

log = logging.getLogger(__name__)

JOB = "weekly_maintenance"
METADATA_RETENTION_HOURS = 720
MAX_FAILURES = 3
PRE_MAINTENANCE_PREFIX = "pre_maintenance_"


@dataclass(frozen=True)
class MaintenanceRequest:
    """What to maintain, and how."""

    dry_run: bool = False
    tables: Sequence[str] | None = None  # default: every enabled table
    include_metadata: bool = True
    strategy: str | None = None  # keep_versions | retention (default: what deltalake supports)
    created_by: str = "bronze_sync"
    run_id: str = "maintenance"  # set from the run by run_maintenance


def run_maintenance(
    config: Config,
    store: BronzeStore,
    request: MaintenanceRequest,
    *,
    now: dt.datetime,
    run: RunInfo | None = None,
    notifier: Notifier | None = None,
    wall_now: dt.datetime | None = None,
) -> MaintenanceSummary:
    """Run the weekly maintenance of bronze and metadata tables; a dry run changes nothing."""
    clock = time.perf_counter()
    meta = MetadataStore(store)
    run = run or RunInfo(run_id=f"maintenance-{uuid.uuid4()}", pipeline_name=JOB)
    request = dataclasses.replace(request, run_id=run.run_id)  # it names the table leases
    notifier = notifier or notifier_for(config)
    tables = config.select_tables(list(request.tables) if request.tables else None)
    summary = MaintenanceSummary(run.run_id, request.dry_run, now)
    if not request.dry_run:
        pre = pre_maintenance_checkpoint(meta, store, tables, now, request.created_by)
        summary.pre_checkpoint = pre.name if pre else None
    deactivated, active = enforce_retention(meta, run, now, dry_run=request.dry_run)
    summary.deactivated = [c.name for c in deactivated]
    if request.include_metadata:
        days = config.log_retention.days()
        summary.trimmed = trim_logs(meta, run, now, days, dry_run=request.dry_run)
    for table in tables:
        summary.outcomes.extend(maintain_table(store, table, active, request, wall_now))
    if request.include_metadata:
        for name in sorted(SCHEMAS):
            if store.exists(meta.uri(name)):
                summary.outcomes.append(maintain_metadata(store, meta.uri(name), name, request))
    summary.seconds = time.perf_counter() - clock
    if not request.dry_run:
        _record(meta, store, run, summary, now, notifier)
    _alert(summary, run, notifier)
    return summary


def pre_maintenance_checkpoint(
    meta: MetadataStore,
    store: BronzeStore,
    tables: Sequence[TableConfig],
    now: dt.datetime,
    created_by: str,
) -> Checkpoint | None:
    """Pin the current version of every table that opens, before anything destructive runs."""
    versions = {}
    for table in tables:
        try:
            delta = store.open(store.table_uri(table.name))
        except Exception as exc:
            log.warning("PreMaintenance checkpoint leaves out %s: %s", table.name, exc)
            continue
        if delta is not None:
            versions[table.name] = delta.version()
    if not versions:
        return None
    name = f"{PRE_MAINTENANCE_PREFIX}{now.astimezone(dt.UTC):%Y-%m-%dT%H%M%S}"
    return create_checkpoint(
        meta,
        name,
        CheckpointType.PRE_MAINTENANCE,
        versions,
        now,
        created_by,
        notes="taken before weekly maintenance (VACUUM, OPTIMIZE, log cleanup)",
    )


def maintain_table(
    store: BronzeStore,
    table: TableConfig,
    active: Sequence[Checkpoint],
    request: MaintenanceRequest,
    wall_now: dt.datetime | None = None,
) -> list[TableOutcome]:
    """VACUUM (checkpoint-safe), OPTIMIZE and clean the log of a bronze table and its history."""
    uri = store.table_uri(table.name)
    outcome = TableOutcome(table.name, "bronze")
    if not store.exists(uri):
        outcome.skipped = "no bronze table yet"
        return [outcome]
    if request.dry_run:
        return _maintain_both(store, table, active, request, wall_now, outcome)
    # No sync may commit (bronze or history) while files are compacted or vacuumed under it.
    with hold_lease(store, table.name, LeaseRequest(request.run_id, purpose="maintenance")):
        return _maintain_both(store, table, active, request, wall_now, outcome)


def _maintain_both(
    store: BronzeStore,
    table: TableConfig,
    active: Sequence[Checkpoint],
    request: MaintenanceRequest,
    wall_now: dt.datetime | None,
    outcome: TableOutcome,
) -> list[TableOutcome]:
    outcomes = [_maintain_table(store, table, active, request, wall_now, outcome)]
    clock = wall_now or dt.datetime.now(dt.UTC)  # the clock of Delta commits (ChangedAt)
    history = maintain_history(store, table, dry_run=request.dry_run, now=clock)
    if history is not None:
        outcomes.append(history)
    return outcomes


def _maintain_table(
    store: BronzeStore,
    table: TableConfig,
    active: Sequence[Checkpoint],
    request: MaintenanceRequest,
    wall_now: dt.datetime | None,
    outcome: TableOutcome,
) -> TableOutcome:
    uri = store.table_uri(table.name)
    outcome.before = measure(store, uri)
    pins = table_pins(active, table.name)
    dry = request.dry_run

    def vacuum(delta: DeltaTable) -> OperationResult:
        plan = plan_vacuum(
            store, delta, table.name, table, pins, strategy=request.strategy, wall_now=wall_now
        )
        return vacuum_table(store, delta, plan, dry_run=dry)

    steps: list[Step] = [
        (VACUUM, table.enable_vacuum, vacuum),
        (
            OPTIMIZE,
            table.enable_optimize,
            lambda d: optimize_table(d, table.name, table.zorder_columns, dry_run=dry),
        ),
        (
            "LogCleanup",
            True,
            lambda d: cleanup_log(
                d, plan_log_cleanup(store, d, table.name, pins, wall_now), dry_run=dry
            ),
        ),
    ]
    return run_steps(store, uri, outcome, steps)


def maintain_metadata(
    store: BronzeStore, uri: str, name: str, request: MaintenanceRequest
) -> TableOutcome:
    """VACUUM (720 h), compact and clean the log of one metadata table (no checkpoint pins it)."""
    outcome = TableOutcome(name, "metadata", before=measure(store, uri))
    dry = request.dry_run

    def vacuum(delta: DeltaTable) -> OperationResult:
        plan = VacuumPlan(name, METADATA_RETENTION_HOURS, True, "retention", [])
        plan.candidates = sorted(run_vacuum(delta, plan, dry_run=True))
        return vacuum_table(store, delta, plan, dry_run=dry)

    steps: list[Step] = [
        (VACUUM, True, vacuum),
        (OPTIMIZE, True, lambda d: optimize_table(d, name, [], dry_run=dry)),
        (
            "LogCleanup",
            True,
            lambda d: cleanup_log(d, plan_log_cleanup(store, d, name, [], None), dry_run=dry),
        ),
    ]
    return run_steps(store, uri, outcome, steps)


def _record(
    meta: MetadataStore,
    store: BronzeStore,
    run: RunInfo,
    summary: MaintenanceSummary,
    now: dt.datetime,
    notifier: Notifier,
) -> None:
    entries = [
        entry for o in summary.outcomes for op in o.operations for entry in _entries(o, op, now)
    ]
    if any(summary.trimmed.values()):
        trimmed = ", ".join(f"{name} {rows:,}" for name, rows in sorted(summary.trimmed.items()))
        entries.append(
            AuditEntry(
                "LogRetention",
                None,
                now,
                now,
                rows_processed=sum(summary.trimmed.values()),
                notes=f"rows older than log_retention removed: {trimmed}",
            )
        )
    write_audit(meta, run, entries, now)
    validations = validate_active_checkpoints(meta, store, now, notifier=notifier, run=run)
    summary.unrestorable = [v.checkpoint.name for v in validations if not v.restorable]
    append_history(meta, run.run_id, [o.record() for o in summary.outcomes], now)
    final = AuditEntry(
        "FinalSummary",
        None,
        now,
        now,
        status=FAILED if summary.failures else "Success",
        rows_processed=len(summary.outcomes),
        notes=summary.headline(),
    )
    write_audit(meta, run, [final], now)


def _entries(outcome: TableOutcome, op: OperationResult, now: dt.datetime) -> list[AuditEntry]:
    """Return one audit entry per Delta version the operation committed (one if none)."""

    def entry(version: int | None, notes: str) -> AuditEntry:
        return AuditEntry(
            op.operation,
            outcome.table,
            now,
            now,
            status=op.status,
            rows_processed=op.files_removed,
            rows_deleted=op.rows_deleted,
            error=op.error,
            notes=notes,
            delta_version=version,
        )

    if not op.versions:
        return [entry(None, op.notes())]
    first, *rest = op.versions
    return [entry(first, op.notes())] + [
        entry(v, f"{op.notes()}; one more commit of the {op.operation} at version {first}")
        for v in rest
    ]


def _alert(summary: MaintenanceSummary, run: RunInfo, notifier: Notifier) -> None:
    if summary.dry_run:
        return
    for outcome in summary.outcomes:
        for op in outcome.operations:
            if op.status == WARNING and op.error:
                notifier.send(_skip_alert(outcome.table, op, run))
    if len(summary.failures) > MAX_FAILURES:
        lines = [f"- {o.table}: {'; '.join(o.reasons())}" for o in summary.failures]
        notifier.send(
            Alert(
                Severity.HIGH,
                f"weekly maintenance: {len(summary.failures)} table(s) failed",
                "\n".join(lines),
                job=run.pipeline_name,
                run_id=run.run_id,
                tables=tuple(o.table for o in summary.failures),
            )
        )


def _skip_alert(table: str, op: OperationResult, run: RunInfo) -> Alert:
    return Alert(
        Severity.MEDIUM,
        f"{op.operation} skipped for {table} to keep an active checkpoint restorable",
        f"{op.error}\n\nIncrease the retention, or wait until the checkpoint expires. Nothing "
        "was removed from this table.",
        job=run.pipeline_name,
        run_id=run.run_id,
        tables=(table,),
        error_class="CheckpointError",
    )
