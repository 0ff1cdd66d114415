"""Run a table sync under its lease and record it: validation, checkpoint, audit, state."""

from __future__ import annotations

import datetime as dt
import logging
import time

from bronze_sync.bronze.lease import LeaseRequest, acquire_lease
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import BronzeError, BronzeSyncError
from bronze_sync.faults import fault_point
from bronze_sync.metadata import pipeline_config
from bronze_sync.metadata.audit import AuditEntry, write_audit, write_validation
from bronze_sync.purge.summary import summarize_after_sync
from bronze_sync.sync.checkpoint_step import (
    alert_checkpoint_failure,
    record_checkpoint,
    repair_missing,
)
from bronze_sync.sync.drift_alert import alert_schema_drift
from bronze_sync.sync.engine import sync_table
from bronze_sync.sync.job import SyncJob
from bronze_sync.sync.records import (
    audit_entries,
    skip_entry,
    update_sync_state,
    validate_result,
)
from bronze_sync.sync.recovery import recover_after_crash
from bronze_sync.sync.reference_step import refresh_reference_tables
from bronze_sync.sync.result import SyncResult

log = logging.getLogger(__name__)


class ValidationFailedError(BronzeError):
    """Bronze's counts after a sync do not add up; the sync is not trusted."""


def run_table_sync(job: SyncJob, table: TableConfig) -> SyncResult:
    """Sync `table` under its lease and record the outcome in the metadata tables.

    Everything that writes (clean-up after a crashed run, metadata recovery, the sync and its
    records) happens while this writer holds the table's lease; failures are re-raised.
    """
    start = job.clock()
    try:
        lease = acquire_lease(job.store, table.name, _lease_request(job, table))
    except BaseException as exc:
        _record_failure(job, table, exc, start)
        _raise_reworded(job, table, exc)
        raise
    try:
        try:
            recover_after_crash(job, table, lease)
            repair_missing(job, table)
            result = sync_table(job, table, lease)
        except BaseException as exc:
            _record_failure(job, table, exc, start)
            _raise_reworded(job, table, exc)
            raise
        recorded = record_sync(job, table, result, start)
        _refresh_reference(job, table)
        return recorded
    finally:
        lease.release()


def _raise_reworded(job: SyncJob, table: TableConfig, exc: BaseException) -> None:
    """Raise an object-store failure as one line naming the storage; return otherwise."""
    reworded = job.store.reworded(f"sync {table.name}", exc)
    if reworded is not exc:
        # Not chained: deltalake's text can hold request URLs (a SAS) and terminal codes.
        raise reworded from None


def _lease_request(job: SyncJob, table: TableConfig) -> LeaseRequest:
    delta = job.store.open(job.store.table_uri(table.name))
    return LeaseRequest(
        run_id=job.run.run_id,
        purpose="sync",
        seconds=job.lease_seconds,
        wait_seconds=job.lease_wait_seconds,
        # Read before taking the lease: an older version only widens a later clean-up's view.
        table_version=delta.version() if delta is not None else None,
        on_wait=lambda message: job.progress(table.name, "schema", message),
    )


def record_sync(
    job: SyncJob, table: TableConfig, result: SyncResult, start: dt.datetime
) -> SyncResult:
    """Write validation, checkpoint, audit and then PipelineConfig for a committed sync.

    The audit rows come after the validation and checkpoint and PipelineConfig comes last, so
    a crash in between leaves a state `recover_after_crash` completes from the commit itself.
    A checkpoint that fails after its retries adds a Warning audit row and an alert; the
    committed sync still succeeds (CR-001 §6).
    """
    if result.mode == "skipped":
        now = job.clock()
        # Still the day's restore point: the batch checkpoint then covers every table.
        warning = record_checkpoint(job, table, result, now)
        entries = [skip_entry(table, result, start, now), *([warning] if warning else [])]
        write_audit(job.meta, job.run, entries, now)
        update_sync_state(job, table, now, "Success", result)
        if warning:
            alert_checkpoint_failure(job, table, warning)
        return result
    job.progress(table.name, "record", "writing validation, checkpoint and audit")
    recording = time.perf_counter()
    validation = validate_result(table, result)
    now = job.clock()
    write_validation(job.meta, job.run, [validation], now)
    warning = None
    if validation.passed:
        checkpointing = time.perf_counter()
        warning = record_checkpoint(job, table, result, now)
        result.phases["checkpoint"] = time.perf_counter() - checkpointing
    entries = audit_entries(table, result, start, now)
    write_audit(job.meta, job.run, [*entries, *([warning] if warning else [])], now)
    status = "Success" if validation.passed else "Failed"
    update_sync_state(job, table, now, status, result)
    fault_point("after_audit")
    result.phases["audit"] = time.perf_counter() - recording
    if not validation.passed:
        raise ValidationFailedError(
            f"post-sync validation failed: {validation.notes}", table=table.name
        )
    if warning:
        alert_checkpoint_failure(job, table, warning)
    alert_schema_drift(job, table, result)
    _post_purge_summary(job, table, result, now)
    return result


def _refresh_reference(job: SyncJob, table: TableConfig) -> None:
    """Refresh the source's reference tables; a problem there never fails a good sync.

    Either outcome is audited (Operation ReferenceTables): a refresh that changed tables as
    Success naming them, a failed one as Warning, so stale labels are never silent.
    """
    start = job.clock()
    try:
        changed = refresh_reference_tables(job, table)
    except Exception as exc:
        log.warning("could not refresh the reference tables of %s: %s", table.name, exc)
        job.progress(table.name, "record", f"reference tables not refreshed: {exc}")
        entry = AuditEntry(
            "ReferenceTables", table.name, start, job.clock(), status="Warning", error=str(exc)
        )
    else:
        if not changed:
            return
        names = ", ".join(f"metadata/{name}" for name in changed)
        job.progress(table.name, "record", f"refreshed {names}")
        entry = AuditEntry("ReferenceTables", table.name, start, job.clock(), notes=names)
    try:
        write_audit(job.meta, job.run, [entry], job.clock())
    except Exception:
        log.exception("could not audit the reference tables of %s", table.name)


def _post_purge_summary(
    job: SyncJob, table: TableConfig, result: SyncResult, now: dt.datetime
) -> None:
    """Settle a pending recorded purge; a summary problem never fails a good sync."""
    try:
        summary = summarize_after_sync(
            job.meta, job.store, table, result.version, job.run, now, job.notifier
        )
    except Exception:
        log.exception("could not write the post-purge summary of %s", table.name)
        return
    if summary is not None:
        job.progress(table.name, "record", summary.message())


def _record_failure(
    job: SyncJob, table: TableConfig, exc: BaseException, start: dt.datetime
) -> None:
    """Write a Failed audit row; never let a metadata problem hide the original error."""
    if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
        return
    message = str(exc) if isinstance(exc, BronzeSyncError) else f"{type(exc).__name__}: {exc}"
    now = job.clock()
    entry = AuditEntry(
        "DataSync", table.name, start, now, status="Failed", error=message, notes=type(exc).__name__
    )
    try:
        write_audit(job.meta, job.run, [entry], now)
        pipeline_config.update_state(
            job.meta, table, now, LastSyncStatus="Failed", LastSchemaCheck=now
        )
    except Exception:  # the sync error matters more than the audit error
        log.exception("could not record the failure of %s", table.name)
