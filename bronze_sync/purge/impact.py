"""The impact report of a purge: which active bronze rows the next sync will flag PURGE."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.bronze.properties import LOG_RETENTION, retention_days
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.bronze.tracking import IS_DELETED, IS_PURGED
from bronze_sync.checkpoints import RETENTION_DAYS, CheckpointType
from bronze_sync.clock import date_start_utc
from bronze_sync.errors import BronzeError
from bronze_sync.purge.request import PurgeTarget
from bronze_sync.rows.values import UTC_TIMESTAMP, as_timestamps

BATCH_ROWS = 1_000_000


@dataclass(frozen=True)
class TableImpact:
    """One table's rows that a purge recorded at `cutoff` will turn into PURGE."""

    table: str
    created_column: str
    version: int
    total_rows: int
    active_rows: int
    to_purge: int
    without_created: int
    already_purged: int
    oldest: dt.datetime | None
    newest: dt.datetime | None
    previous_purge: dt.datetime | None
    log_retention: str | None

    @property
    def share(self) -> float:
        """Return the fraction of active rows that will be PURGE when they vanish."""
        return self.to_purge / self.active_rows if self.active_rows else 0.0

    def warnings(self) -> list[str]:
        """Return what an operator should know before trusting this purge."""
        out = []
        if self.to_purge == 0:
            out.append("no active row was created before the purge date")
        if self.without_created:
            out.append(
                f"{self.without_created:,} active row(s) have no {self.created_column}; "
                "they become DELETE, not PURGE, if they vanish"
            )
        days = retention_days(self.log_retention)
        needed = RETENTION_DAYS[CheckpointType.PRE_PURGE]
        if days is not None and days < needed:
            out.append(
                f"{LOG_RETENTION} is {self.log_retention}: the pre-purge checkpoint (kept "
                f"until retired) stops being restorable within {needed} days, when the log "
                "of its version is cleaned up"
            )
        return out


@dataclass(frozen=True)
class ImpactReport:
    """What recording a purge at `purge_date` means for each table."""

    purge_date: dt.date
    tables: list[TableImpact] = field(default_factory=list)

    @property
    def total_to_purge(self) -> int:
        """Return how many rows, over every table, will be PURGE when they vanish."""
        return sum(t.to_purge for t in self.tables)

    def rows(self) -> list[list[Any]]:
        """Return one display row per table (see COLUMNS)."""
        return [
            [
                t.table,
                t.active_rows,
                t.to_purge,
                f"{t.share:.1%}",
                _day(t.oldest),
                _day(t.newest),
                t.without_created,
                _day(t.previous_purge) or "none",
            ]
            for t in self.tables
        ]

    def to_markdown(self) -> str:
        """Return the report as a Markdown table (Dagster metadata, alert bodies)."""
        lines = [
            f"**Purge date {self.purge_date}**: active rows created before it become "
            f"`IsPurged` when they vanish from the source ({self.total_to_purge:,} in total).",
            "",
            "| " + " | ".join(COLUMNS) + " |",
            "|" + "---|" * len(COLUMNS),
        ]
        for row in self.rows():
            lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
        notes = [f"- `{t.table}`: {w}" for t in self.tables for w in t.warnings()]
        return "\n".join([*lines, "", *notes] if notes else lines)

    def to_text(self) -> str:
        """Return the report as plain text (audit notes, log alerts)."""
        parts = [f"purge date {self.purge_date}; {self.total_to_purge:,} row(s) to purge"]
        for t in self.tables:
            parts.append(
                f"{t.table}: {t.to_purge:,} of {t.active_rows:,} active rows ({t.share:.1%}) "
                f"created {_day(t.oldest) or '-'}..{_day(t.newest) or '-'}"
                + "".join(f"; {w}" for w in t.warnings())
            )
        return "\n".join(parts)


COLUMNS = [
    "table",
    "active rows",
    "to purge",
    "share",
    "oldest created",
    "newest created",
    "no created date",
    "previous purge date",
]


def compute_impact(
    store: BronzeStore, targets: list[PurgeTarget], purge_date: dt.date
) -> ImpactReport:
    """Return the impact report of a purge at `purge_date` over the targets' bronze versions."""
    cutoff = date_start_utc(purge_date)
    return ImpactReport(purge_date, [table_impact(store, t, cutoff) for t in targets])


def table_impact(store: BronzeStore, target: PurgeTarget, cutoff: dt.datetime) -> TableImpact:
    """Count, batch by batch, the active rows of one table created before `cutoff`."""
    name, created = target.table.name, target.table.created_column
    delta = store.open(store.table_uri(name), version=target.version)
    if delta is None or created is None:
        raise BronzeError("no bronze table or no created_column", table=name)
    dataset = delta.to_pyarrow_dataset()
    if created not in dataset.schema.names:
        raise BronzeError(f"bronze table has no column {created!r} (created_column)", table=name)
    flags = [c for c in (IS_DELETED, IS_PURGED) if c in dataset.schema.names]
    totals = {"total": 0, "active": 0, "to_purge": 0, "without_created": 0, "purged": 0}
    oldest: list[dt.datetime] = []
    newest: list[dt.datetime] = []
    limit = pa.scalar(cutoff, UTC_TIMESTAMP)
    for batch in dataset.to_batches(columns=[created, *flags], batch_size=BATCH_ROWS):
        deleted = _flag(batch, IS_DELETED)
        purged = _flag(batch, IS_PURGED)
        active = pc.invert(pc.or_(deleted, purged))
        stamps = as_timestamps(batch.column(created))
        before = pc.and_(active, pc.fill_null(pc.less(stamps, limit), False))
        totals["total"] += batch.num_rows
        totals["active"] += _sum(active)
        totals["to_purge"] += _sum(before)
        totals["without_created"] += _sum(pc.and_(active, pc.is_null(stamps)))
        totals["purged"] += _sum(purged)
        chosen = stamps.filter(before)
        if len(chosen):
            low, high = pc.min_max(chosen).values()
            oldest.append(low.as_py())
            newest.append(high.as_py())
    return TableImpact(
        table=name,
        created_column=created,
        version=target.version,
        total_rows=totals["total"],
        active_rows=totals["active"],
        to_purge=totals["to_purge"],
        without_created=totals["without_created"],
        already_purged=totals["purged"],
        oldest=min(oldest) if oldest else None,
        newest=max(newest) if newest else None,
        previous_purge=target.previous_purge,
        log_retention=(delta.metadata().configuration or {}).get(LOG_RETENTION),
    )


def _flag(batch: pa.RecordBatch, name: str) -> pa.Array:
    if name not in batch.schema.names:
        return pa.repeat(False, batch.num_rows)
    return pc.fill_null(batch.column(name), False)


def _sum(mask: pa.Array) -> int:
    return pc.sum(mask).as_py() or 0


def _day(value: dt.datetime | None) -> str:
    return value.date().isoformat() if value else ""


def _cell(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)
