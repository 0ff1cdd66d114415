"""A synced table's Daily checkpoint: retried, and never a reason to fail a committed sync.

CR-001 §6: a checkpoint that still fails after its retries leaves the sync successful, audited
with a Warning `DailyCheckpoint` row naming the table and the unpinned version, and alerted
(deduplicated like every alert). The table's next sync, or the batch checkpoint sensor,
records the missing checkpoint (`bronze_sync.checkpoints.repair`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from bronze_sync.alerts import Severity
from bronze_sync.alerts.content import TableFailure, failure_alert
from bronze_sync.checkpoints.model import daily_name
from bronze_sync.checkpoints.repair import CHECKPOINT_OPERATION, FAILED, repair_checkpoints
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import BronzeSyncError
from bronze_sync.faults import fault_point
from bronze_sync.metadata.audit import AuditEntry
from bronze_sync.sync.job import SyncJob
from bronze_sync.sync.records import daily_checkpoint
from bronze_sync.sync.result import SyncResult

log = logging.getLogger(__name__)
CHECKPOINT_FAILED = "CheckpointFailed"
MAX_ERROR = 500


def record_checkpoint(
    job: SyncJob,
    table: TableConfig,
    result: SyncResult,
    now: dt.datetime,
    day: str | None = None,
    notes: str | None = None,
) -> AuditEntry | None:
    """Record the sync's Daily checkpoint, retrying; return its Warning entry if it failed."""
    name = daily_name(day or job.day(), table.name)
    attempts = job.checkpoint_retries + 1
    error = ""
    for attempt in range(1, attempts + 1):
        try:
            fault_point("checkpoint")
            daily_checkpoint(job, table, result, now, day, notes)
            return None
        except Exception as exc:
            error = _describe(job, name, exc)
            log.warning("checkpoint %s, attempt %d of %d: %s", name, attempt, attempts, error)
            if attempt == attempts or not _transient(exc):
                break
            job.progress(table.name, "record", f"checkpoint failed, retrying: {error}")
            time.sleep(job.checkpoint_retry_delay * 2 ** (attempt - 1))
    result.checkpoint_error = error
    job.progress(table.name, "record", f"synced WITHOUT checkpoint {name}: {error}")
    return AuditEntry(
        CHECKPOINT_OPERATION,
        table.name,
        now,
        job.clock(),
        status=FAILED,
        error=error,
        retry_count=attempt - 1,
        notes=(
            f"checkpoint {name} of {table.name} version {result.version} not recorded after "
            f"{attempt} attempt(s); the data is committed; the next sync of {table.name} or "
            "the batch checkpoint sensor records it"
        ),
        delta_version=result.version,
    )


def alert_checkpoint_failure(job: SyncJob, table: TableConfig, entry: AuditEntry) -> None:
    """Tell operators a table synced without its checkpoint; never fail the sync for it."""
    failure = TableFailure(table.name, CHECKPOINT_FAILED, entry.error or "checkpoint failed")
    alert = failure_alert(
        job.run.pipeline_name,
        job.run.run_id,
        [failure],
        severity=Severity.HIGH,
        what="synced without a checkpoint",
    )
    try:
        job.notifier.send(alert)
    except Exception:
        log.exception("could not send the checkpoint alert of %s", table.name)


def repair_missing(job: SyncJob, table: TableConfig) -> None:
    """Record the checkpoints earlier syncs of `table` could not; a problem only warns."""
    try:
        made = repair_checkpoints(
            job.meta, job.store, job.run, job.clock(), job.created_by, [table.name]
        )
    except Exception as exc:
        log.warning("could not record the missing checkpoints of %s: %s", table.name, exc)
        return
    for checkpoint in made:
        job.progress(table.name, "schema", f"recorded the missing checkpoint {checkpoint.name}")


def _transient(exc: Exception) -> bool:
    """Return False for our own errors that say retrying cannot help."""
    return not isinstance(exc, BronzeSyncError) or exc.retryable


def _describe(job: SyncJob, name: str, exc: Exception) -> str:
    """Return one line saying why the checkpoint failed, without storage secrets."""
    reworded = job.store.reworded(f"record checkpoint {name}", exc)
    text = f"{type(exc).__name__}: {reworded}"
    line = " ".join(job.store.redact(text).split())
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 1] + "…"
