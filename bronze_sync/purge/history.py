"""PurgeHistory: every recorded purge per table, what it was expected to flag and what it did."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.schemas import TS, register_schema

PURGE_HISTORY = "PurgeHistory"
PENDING = "Pending"  # recorded; the next successful sync of the table has not run yet
MATCHED = "Matched"
MISMATCH = "Mismatch"
SUPERSEDED = "Superseded"  # another purge was recorded for the table before the next sync

register_schema(
    PURGE_HISTORY,
    pa.schema(
        [
            ("PurgeId", pa.string()),
            ("TableName", pa.string()),
            ("PurgeDate", TS),
            ("PreviousPurgeDate", TS),
            ("RecordedDate", TS),
            ("PipelineRunId", pa.string()),
            ("CheckpointName", pa.string()),
            ("ActiveRowsAtRecord", pa.int64()),
            ("ExpectedPurgeRows", pa.int64()),
            ("ActualPurgedRows", pa.int64()),
            ("Status", pa.string()),
            ("SummaryDate", TS),
            ("SummaryRunId", pa.string()),
            ("Notes", pa.string()),
        ]
    ),
)


@dataclass(frozen=True)
class PurgeEvent:
    """One table's recorded purge and, once the next sync ran, its outcome."""

    purge_id: str
    table: str
    purge_date: dt.datetime
    previous_purge_date: dt.datetime | None
    recorded: dt.datetime
    run_id: str
    checkpoint: str | None
    active_rows: int
    expected: int
    status: str = PENDING
    actual: int | None = None
    summary_date: dt.datetime | None = None
    summary_run_id: str | None = None
    notes: str | None = None

    @classmethod
    def new(cls, **values: Any) -> PurgeEvent:
        """Return a pending event with a fresh id."""
        return cls(purge_id=str(uuid.uuid4()), **values)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PurgeEvent:
        """Build an event from a PurgeHistory row."""
        return cls(
            purge_id=row["PurgeId"],
            table=row["TableName"],
            purge_date=row["PurgeDate"],
            previous_purge_date=row["PreviousPurgeDate"],
            recorded=row["RecordedDate"],
            run_id=row["PipelineRunId"],
            checkpoint=row["CheckpointName"],
            active_rows=row["ActiveRowsAtRecord"] or 0,
            expected=row["ExpectedPurgeRows"] or 0,
            status=row["Status"],
            actual=row["ActualPurgedRows"],
            summary_date=row["SummaryDate"],
            summary_run_id=row["SummaryRunId"],
            notes=row["Notes"],
        )

    def to_row(self) -> dict[str, Any]:
        """Return the PurgeHistory row of this event."""
        return {
            "PurgeId": self.purge_id,
            "TableName": self.table,
            "PurgeDate": self.purge_date,
            "PreviousPurgeDate": self.previous_purge_date,
            "RecordedDate": self.recorded,
            "PipelineRunId": self.run_id,
            "CheckpointName": self.checkpoint,
            "ActiveRowsAtRecord": self.active_rows,
            "ExpectedPurgeRows": self.expected,
            "ActualPurgedRows": self.actual,
            "Status": self.status,
            "SummaryDate": self.summary_date,
            "SummaryRunId": self.summary_run_id,
            "Notes": self.notes,
        }


def read_events(meta: MetadataStore, table: str | None = None) -> list[PurgeEvent]:
    """Return recorded purges (of `table`), newest first."""
    events = [PurgeEvent.from_row(r) for r in meta.rows(PURGE_HISTORY)]
    if table is not None:
        events = [e for e in events if e.table == table]
    return sorted(events, key=lambda e: e.recorded, reverse=True)


def pending_events(meta: MetadataStore, table: str) -> list[PurgeEvent]:
    """Return the table's purges whose post-purge summary has not been made."""
    return [e for e in read_events(meta, table) if e.status == PENDING]


def add_events(meta: MetadataStore, events: list[PurgeEvent]) -> None:
    """Store new pending events; older pending events of the same tables are superseded."""
    newest = {e.table: e for e in events}
    older = [
        replace(e, status=SUPERSEDED, notes=f"superseded by purge {newest[e.table].purge_id}")
        for e in read_events(meta)
        if e.table in newest and e.status == PENDING
    ]
    save_events(meta, [*older, *events])


def save_events(meta: MetadataStore, events: list[PurgeEvent]) -> None:
    """Insert or replace events by PurgeId, in one commit."""
    meta.upsert(PURGE_HISTORY, [e.to_row() for e in events], keys=["PurgeId"])
