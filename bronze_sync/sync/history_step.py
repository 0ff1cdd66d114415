"""Record a sync's history after its bronze commit (and repair gaps earlier runs left)."""

from __future__ import annotations

from bronze_sync.config.models import TableConfig
from bronze_sync.history.record import HistoryOutcome, record_or_defer
from bronze_sync.history.spool import ChangeSpool
from bronze_sync.sync.job import SyncJob


def keep_history(
    job: SyncJob, table: TableConfig, version: int, spool: ChangeSpool | None = None
) -> tuple[HistoryOutcome | None, str | None]:
    """Bring the table's history up to `version`; a failure is reported, never raised."""
    outcome, error = record_or_defer(job.store, table.name, table.primary_key, version, spool)
    if error is not None:
        job.progress(table.name, "history", error)
    elif outcome is not None and outcome.versions:
        job.progress(table.name, "history", outcome.describe())
    return outcome, error
