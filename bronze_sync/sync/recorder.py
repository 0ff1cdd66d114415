"""Run a table sync and record it: audit rows, validation, Daily checkpoint, config state."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

from bronze_sync.checkpoints import CheckpointType, create_checkpoint, daily_name
from bronze_sync.checkpoints.model import VALIDATED
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import BronzeError, BronzeSyncError
from bronze_sync.metadata import pipeline_config
from bronze_sync.metadata.audit import AuditEntry, ValidationRecord, write_audit, write_validation
from bronze_sync.purge.summary import summarize_after_sync
from bronze_sync.sync.changes import CHANGE_TOKEN
from bronze_sync.sync.engine import sync_table
from bronze_sync.sync.job import SyncJob
from bronze_sync.sync.result import SyncResult

log = logging.getLogger(__name__)


class ValidationFailedError(BronzeError):
    """Bronze's counts after a sync do not add up; the sync is not trusted."""


def run_table_sync(job: SyncJob, table: TableConfig) -> SyncResult:
    """Sync `table` and record the outcome in the metadata tables; re-raise failures."""
    start = job.clock()
    try:
        result = sync_table(job, table)
    except BaseException as exc:
        _record_failure(job, table, exc, start)
        raise
    job.progress(table.name, "record", "writing audit, validation and checkpoint")
    recording = time.perf_counter()
    validation = validate_result(table, result)
    now = job.clock()
    write_audit(job.meta, job.run, audit_entries(table, result, start, now), now)
    write_validation(job.meta, job.run, [validation], now)
    if not validation.passed:
        _update_config(job, table, now, "Failed", result)
        raise ValidationFailedError(
            f"post-sync validation failed: {validation.notes}", table=table.name
        )
    result.phases["audit"] = time.perf_counter() - recording
    checkpointing = time.perf_counter()
    checkpoint = create_checkpoint(
        job.meta,
        daily_name(job.day(), table.name),
        CheckpointType.DAILY,
        {table.name: result.version},
        now,
        job.created_by,
        notes=f"run {job.run.run_id}",
        total_rows=result.counts.get("total"),
    )
    result.phases["checkpoint"] = time.perf_counter() - checkpointing
    if checkpoint.validation_status != VALIDATED:
        log.warning(
            "checkpoint %s of %s is %s", checkpoint.name, table.name, checkpoint.validation_status
        )
    _update_config(job, table, now, "Success", result)
    _post_purge_summary(job, table, result, now)
    return result


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


def validate_result(table: TableConfig, result: SyncResult) -> ValidationRecord:
    """Check bronze's counts after a sync: zero tolerance."""
    c = result.counts
    problems = []
    if c["total"] != c["active"] + c["deleted"] + c["purged"]:
        problems.append(f"total {c['total']} != active + deleted + purged")
    if (
        result.full_key_scan
        and result.source_rows is not None
        and c["active"] != result.source_rows
    ):
        problems.append(f"active {c['active']} != source rows {result.source_rows}")
    notes = "; ".join(problems) if problems else _validation_note(result)
    return ValidationRecord(
        table=table.name,
        context="DailySync",
        passed=not problems,
        total=c["total"],
        active=c["active"],
        deleted=c["deleted"],
        purged=c["purged"],
        source_rows=result.source_rows,
        notes=notes,
    )


def _validation_note(result: SyncResult) -> str:
    if result.full_key_scan:
        return "counts consistent; active rows equal the source's key count"
    return "counts consistent; source not fully scanned (no key comparison)"


def audit_entries(
    table: TableConfig, result: SyncResult, start: dt.datetime, end: dt.datetime
) -> list[AuditEntry]:
    """Return the SyncAuditLog entries that describe a successful sync."""
    entries = [
        AuditEntry(
            "SchemaCheck",
            table.name,
            start,
            end,
            notes=_schema_note(result),
        )
    ]
    if result.mode == "initial":
        entries.append(
            AuditEntry("CreateTable", table.name, start, end, delta_version=result.version)
        )
        entries.append(
            AuditEntry(
                "InitialSync",
                table.name,
                start,
                end,
                rows_processed=result.inserted,
                delta_version=result.version,
            )
        )
        return entries
    if result.tracking_added:
        entries.append(AuditEntry("AddTrackingColumns", table.name, start, end))
    if result.columns_added:
        entries.append(
            AuditEntry(
                "SchemaEvolution",
                table.name,
                start,
                end,
                notes=f"added columns: {', '.join(result.columns_added)}",
            )
        )
    entries.append(
        AuditEntry(
            "DataSync",
            table.name,
            start,
            end,
            rows_processed=result.inserted + result.updated + result.undeleted,
            delta_version=result.version,
            retry_count=result.retries,
            notes=(
                f"mode={result.mode}; extracted={result.extracted_rows}; "
                f"inserted={result.inserted} (late {result.late_inserts}); "
                f"updated={result.updated}; undeleted={result.undeleted}; "
                f"unchanged={result.unchanged}; "
                f"since={result.since.isoformat() if result.since else 'full'}; "
                f"committed={result.committed}"
            ),
        )
    )
    if table.track_deletes:
        entries.append(
            AuditEntry(
                "DeleteDetection",
                table.name,
                start,
                end,
                rows_deleted=result.deleted,
                rows_purged=result.purged,
                delta_version=result.version,
                notes="; ".join(f"{k}: {v}" for k, v in result.samples.items()) or None,
            )
        )
    return entries


def _schema_note(result: SyncResult) -> str:
    parts = [f"mode={result.mode}"]
    if result.properties_repaired:
        parts.append(f"table properties repaired: {'; '.join(result.properties_repaired)}")
    if result.columns_added:
        parts.append(f"new columns {result.columns_added}")
    if result.columns_dropped:
        parts.append(f"columns gone from the source (kept in bronze) {result.columns_dropped}")
    if result.tracking_added:
        parts.append("tracking columns added")
    return "; ".join(parts)


def _update_config(
    job: SyncJob, table: TableConfig, now: dt.datetime, status: str, result: SyncResult
) -> None:
    state = {
        "TableExists": True,
        "HasTrackingColumns": True,
        "LastSchemaCheck": now,
        "LastSyncStatus": status,
        "LastSyncVersion": result.version,
    }
    if status == "Success":
        state["LastDailySync"] = now
    source_state = dict(result.source_state or {})
    token = source_state.pop(CHANGE_TOKEN, None)
    if source_state:
        state["SourceState"] = json.dumps(source_state, sort_keys=True)
    if token and status == "Success":  # a change token only moves on with a good commit
        state["ChangeToken"] = token
    pipeline_config.update_state(job.meta, table, now, **state)


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
