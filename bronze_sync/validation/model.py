"""What a check evaluation returns, and what every check reads: the table and its metadata."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from bronze_sync.bronze.reader import fill_flags, flag_counts
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.bronze.tracking import (
    DELETED_DATE,
    LAST_SYNCED,
    PURGED_DATE,
    SYNC_OPERATION,
    TRACKING_NAMES,
)
from bronze_sync.config.models import TableConfig
from bronze_sync.metadata import pipeline_config
from bronze_sync.metadata.schemas import DATA_VALIDATION, SYNC_AUDIT_LOG
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.sync.changes import RETAINED_COLUMN


class CheckSeverity(StrEnum):
    """How bad a failed check is: ERROR blocks, WARN informs."""

    ERROR = "ERROR"
    WARN = "WARN"


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check on one table, with the figures behind it."""

    check: str
    table: str
    severity: CheckSeverity
    passed: bool
    message: str
    figures: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    counts: dict[str, int] = field(default_factory=dict)  # the table's row counts

    @property
    def blocking_failure(self) -> bool:
        """Return True when this is a failed ERROR check."""
        return not self.passed and self.severity == CheckSeverity.ERROR


class CheckContext:
    """One bronze table at its current version plus its metadata, loaded once, lazily."""

    def __init__(
        self,
        store: BronzeStore,
        meta: MetadataStore,
        table: TableConfig,
        now: dt.datetime,
    ) -> None:
        self.store, self.meta, self.table, self.now = store, meta, table, now

    @cached_property
    def delta(self) -> DeltaTable | None:
        """Return the bronze Delta table, or None when it does not exist."""
        return self.store.open(self.store.table_uri(self.table.name))

    @cached_property
    def rows(self) -> pa.Table:
        """Return the key, created and tracking columns of every bronze row (flags filled)."""
        if self.delta is None:
            return pa.table({})
        dataset = self.delta.to_pyarrow_dataset()
        names = set(dataset.schema.names)
        wanted = [*self.table.primary_key, *sorted(TRACKING_NAMES & names)]
        if self.table.created_column and self.table.created_column in names:
            wanted.append(self.table.created_column)
        if RETAINED_COLUMN in names:
            wanted.append(RETAINED_COLUMN)
        if self.table.latest_column and self.table.latest_column in names:
            wanted.append(self.table.latest_column)
        data = dataset.to_table(columns=list(dict.fromkeys(wanted)))
        data = fill_flags(data)
        for column, kind in (
            (DELETED_DATE, pa.timestamp("us", tz="UTC")),
            (PURGED_DATE, pa.timestamp("us", tz="UTC")),
            (LAST_SYNCED, pa.timestamp("us", tz="UTC")),
            (SYNC_OPERATION, pa.string()),
        ):
            if column not in data.column_names:
                data = data.append_column(column, pa.nulls(data.num_rows, kind))
        return data

    @cached_property
    def counts(self) -> dict[str, int]:
        """Return total, active, deleted and purged row counts."""
        if self.delta is None:
            return {"total": 0, "active": 0, "deleted": 0, "purged": 0}
        return flag_counts(self.rows)

    @cached_property
    def config_row(self) -> dict[str, Any]:
        """Return the table's PipelineConfig row ({} when there is none)."""
        return pipeline_config.read_state(self.meta, self.table.name) or {}

    @cached_property
    def audit(self) -> pa.Table:
        """Return this table's SyncAuditLog rows, oldest first."""
        return _rows_of(self.meta.read(SYNC_AUDIT_LOG), self.table.name, "CreatedDate")

    @cached_property
    def validations(self) -> pa.Table:
        """Return this table's DataValidation rows, oldest first."""
        return _rows_of(self.meta.read(DATA_VALIDATION), self.table.name, "ValidationDate")


def _rows_of(data: pa.Table, table: str, order: str) -> pa.Table:
    # String predicates cannot be pushed into delta-rs datasets: filter in memory.
    mine = data.filter(pc.fill_null(pc.equal(data.column("TableName"), table), False))
    return mine.sort_by([(order, "ascending")])


def count_true(mask: pa.Array | pa.ChunkedArray) -> int:
    """Return how many entries of a boolean mask are true (nulls count as false)."""
    return int(pc.sum(pc.fill_null(mask, False)).as_py() or 0)
