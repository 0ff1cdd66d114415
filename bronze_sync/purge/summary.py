"""Post-purge summary: after the next sync, compare expected and actual purged rows per table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.alerts import Alert, Notifier, Severity
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.bronze.tracking import IS_PURGED, PURGED_DATE, UTC_TIMESTAMP
from bronze_sync.config.models import TableConfig
from bronze_sync.metadata import AuditEntry, MetadataStore, RunInfo
from bronze_sync.metadata.audit import write_audit
from bronze_sync.metadata.pipeline_config import read_state, update_state
from bronze_sync.purge.history import MATCHED, MISMATCH, SUPERSEDED, PurgeEvent, pending_events
from bronze_sync.purge.history import save_events as save_purge_events

OPERATION = "PostPurgeSummary"


@dataclass(frozen=True)
class PurgeSummary:
    """A recorded purge, its expected PURGE rows and what bronze flagged after the next sync."""

    event: PurgeEvent

    @property
    def matched(self) -> bool:
        """Return True when bronze flagged exactly the expected number of rows."""
        return self.event.status == MATCHED

    def message(self) -> str:
        """Return a sentence an operator can act on."""
        e = self.event
        actual, expected = e.actual or 0, e.expected
        head = (
            f"{e.table}: purge of rows created before {e.purge_date.date()}: "
            f"{actual:,} row(s) flagged IsPurged, {expected:,} expected"
        )
        if actual == expected:
            return head
        if actual < expected:
            return (
                f"{head}. {expected - actual:,} expected row(s) are still in the source: the "
                "source purge may not have run yet, may have used another date, or kept them"
            )
        return (
            f"{head}. {actual - expected:,} more than expected: rows synced after the purge was "
            "recorded, or rows the source moved to retention, vanished too"
        )


def summarize_after_sync(
    meta: MetadataStore,
    store: BronzeStore,
    table: TableConfig,
    version: int,
    run: RunInfo,
    now: dt.datetime,
    notifier: Notifier,
) -> PurgeSummary | None:
    """After a successful sync, settle the table's pending purge; warn and alert on mismatch."""
    pending = pending_events(meta, table.name)
    if not pending:
        return None
    event, *older = pending  # newest first; older ones should already be superseded
    actual = purged_since(store, table.name, version, event.recorded)
    settled = replace(
        event,
        actual=actual,
        status=MATCHED if actual == event.expected else MISMATCH,
        summary_date=now,
        summary_run_id=run.run_id,
    )
    stale = [replace(o, status=SUPERSEDED, notes=f"superseded by {event.purge_id}") for o in older]
    save_purge_events(meta, [settled, *stale])
    summary = PurgeSummary(settled)
    state = read_state(meta, table.name) or {}
    update_state(
        meta,
        table,
        now,
        PurgeRecordCount=max(0, (state.get("PurgeRecordCount") or 0) + actual - event.expected),
    )
    entry = AuditEntry(
        OPERATION,
        table.name,
        now,
        now,
        rows_purged=actual,
        status="Success" if summary.matched else "Warning",
        delta_version=version,
        notes=summary.message(),
    )
    write_audit(meta, run, [entry], now)
    if not summary.matched:
        notifier.send(
            Alert(
                severity=Severity.MEDIUM,
                subject=f"Post-purge summary mismatch for {table.name}",
                body=summary.message(),
                job=run.pipeline_name,
                run_id=run.run_id,
                tables=(table.name,),
                details={"expected": str(event.expected), "actual": str(actual)},
            )
        )
    return summary


def purged_since(store: BronzeStore, table: str, version: int, since: dt.datetime) -> int:
    """Return how many rows of a bronze table version were flagged PURGE at or after `since`."""
    delta = store.open(store.table_uri(table), version=version)
    if delta is None:
        return 0
    limit = pa.scalar(since, UTC_TIMESTAMP)
    total = 0
    for batch in delta.to_pyarrow_dataset().to_batches(columns=[IS_PURGED, PURGED_DATE]):
        flagged = pc.fill_null(batch.column(IS_PURGED), False)
        recent = pc.fill_null(pc.greater_equal(batch.column(PURGED_DATE), limit), False)
        total += pc.sum(pc.and_(flagged, recent)).as_py() or 0
    return total
