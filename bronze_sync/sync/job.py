"""What one sync run needs: the source, bronze, metadata, run identity and a clock."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bronze_sync.alerts import LogNotifier, Notifier
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.clock import Clock, utc_now
from bronze_sync.metadata.audit import RunInfo
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.sources.base import Source

# (table, stage, message): stages are schema, extract, keys, diff, commit, record.
Progress = Callable[[str, str, str], None]


def no_progress(table: str, stage: str, message: str) -> None:
    """Ignore progress reports."""


@dataclass
class SyncJob:
    """The run-wide context every table sync shares."""

    source: Source
    store: BronzeStore
    meta: MetadataStore
    run: RunInfo
    clock: Clock = utc_now
    allow_mass_delete: bool = False
    staging_root: str | None = None
    memory_budget_mb: int = 2048
    diff_partitions: int | None = None  # None: derived from the table size and the budget
    progress: Progress = no_progress
    lease_seconds: float = 120.0
    lease_wait_seconds: float = 600.0
    # Partitioned tables: the values to (re)load; None loads the source's new values.
    partition_values: tuple[Any, ...] | None = None
    created_by: str = "bronze_sync"
    notifier: Notifier = field(default_factory=LogNotifier)
    # A Daily checkpoint that fails is tried again this often, after this delay (doubling).
    checkpoint_retries: int = 2
    checkpoint_retry_delay: float = 2.0

    def commit_identity(self) -> dict[str, str | None]:
        """Return who commits: the run, its job and sync batch (recorded in every commit)."""
        return {
            "run_id": self.run.run_id,
            "pipeline": self.run.pipeline_name,
            "partition_key": self.run.partition_key,
            # This release writes the row history after every commit: a history table that
            # is missing later means a failed append to repair, not a table to backfill.
            "history": "on",
        }

    def day(self) -> str:
        """Return the sync batch day: the partition key when it is a date, else today (UTC)."""
        key = self.run.partition_key
        if key and len(key) == 10:
            try:
                return dt.date.fromisoformat(key).isoformat()
            except ValueError:
                pass  # a partitioned table's value key (a COBID), not a sync batch
        return self.clock().date().isoformat()


@dataclass
class PhaseTimer:
    """Wall seconds spent per phase of one table sync."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        """Time the enclosed block as `phase` (repeated phases add up)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - start
