"""Circuit breaker: after N consecutive failed syncs a table is skipped until reset."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.alerts.content import TableFailure, failure_alert
from bronze_sync.config.models import TableConfig
from bronze_sync.metadata import AuditEntry, MetadataStore, RunInfo, pipeline_config
from bronze_sync.metadata.audit import write_audit
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync.sync.job import SyncJob

RESET = "CircuitBreakerReset"
OPEN = "CircuitBreakerOpen"
COUNTED = pa.array(["DataSync", "InitialSync", RESET])
OUTCOMES = pa.array(["Success", "Failed"])


@dataclass(frozen=True)
class BreakerState:
    """A table's breaker: consecutive failed sync runs and since when it is open."""

    table: str
    failures: int
    open_since: dt.datetime | None
    newly_opened: bool = False

    @property
    def is_open(self) -> bool:
        """Return True when syncs of the table are skipped."""
        return self.open_since is not None

    def reason(self) -> str:
        """Return why the table is skipped, and how to close the breaker."""
        since = self.open_since.strftime("%Y-%m-%d %H:%M UTC") if self.open_since else "-"
        return (
            f"circuit breaker open since {since} after {self.failures} consecutive failed "
            f"syncs; fix the cause, then run: bronze-sync breaker reset --tables {self.table}"
        )


def consecutive_failures(meta: MetadataStore, table: str) -> int:
    """Return how many sync runs of `table` failed in a row since its last success or reset."""
    audit = meta.read(
        SYNC_AUDIT_LOG, ["TableName", "Operation", "Status", "CreatedDate", "PipelineRunId"]
    )
    mask = pc.and_(
        pc.and_(
            pc.fill_null(pc.equal(audit.column("TableName"), table), False),
            pc.fill_null(pc.is_in(audit.column("Operation"), value_set=COUNTED), False),
        ),
        pc.fill_null(pc.is_in(audit.column("Status"), value_set=OUTCOMES), False),
    )
    mine = audit.filter(mask).sort_by([("CreatedDate", "descending")])
    ended = pc.not_equal(mine.column("Status"), "Failed")
    first_ok = pc.index(ended, True).as_py()
    failed = mine if first_ok < 0 else mine.slice(0, first_ok)
    # Retries of one run write one Failed row each: count runs, not attempts.
    return len(pc.unique(failed.column("PipelineRunId")))


def check_breaker(
    meta: MetadataStore, table: TableConfig, threshold: int, now: dt.datetime
) -> BreakerState:
    """Return the table's breaker, opening it (and saving that) at `threshold` failures."""
    row = pipeline_config.read_state(meta, table.name) or {}
    failures = consecutive_failures(meta, table.name)
    open_since = row.get("BreakerOpenSince")
    opened = open_since is None and failures >= threshold
    if opened:
        open_since = now
    if opened or row.get("ConsecutiveFailures") != failures:
        pipeline_config.update_state(
            meta, table, now, ConsecutiveFailures=failures, BreakerOpenSince=open_since
        )
    return BreakerState(table.name, failures, open_since, newly_opened=opened)


def read_breaker(meta: MetadataStore, table: str) -> BreakerState:
    """Return the table's breaker as last saved, without changing it."""
    row = pipeline_config.read_state(meta, table) or {}
    return BreakerState(table, consecutive_failures(meta, table), row.get("BreakerOpenSince"))


def skip_if_open(job: SyncJob, table: TableConfig, threshold: int) -> str | None:
    """Return the skip reason (after auditing and alerting) when the table's breaker is open."""
    now = job.clock()
    state = check_breaker(job.meta, table, threshold, now)
    if not state.is_open:
        return None
    reason = state.reason()
    entry = AuditEntry("DataSync", table.name, now, now, status="Skipped", notes=reason)
    write_audit(job.meta, job.run, [entry], now)
    job.notifier.send(
        failure_alert(
            job.run.pipeline_name,
            job.run.run_id,
            [TableFailure(table.name, OPEN, reason)],
            what="skipped: circuit breaker open",
        )
    )
    return reason


def reset_breaker(
    meta: MetadataStore, table: TableConfig, run: RunInfo, now: dt.datetime, by: str
) -> BreakerState:
    """Close the table's breaker: later syncs run again and failures count from zero."""
    before = pipeline_config.read_state(meta, table.name) or {}
    since = before.get("BreakerOpenSince")
    note = f"reset by {by}; open since {since.isoformat() if since else 'never opened'}"
    write_audit(meta, run, [AuditEntry(RESET, table.name, now, now, notes=note)], now)
    pipeline_config.update_state(meta, table, now, ConsecutiveFailures=0, BreakerOpenSince=None)
    return BreakerState(table.name, 0, None)
