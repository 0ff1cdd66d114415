"""The sync engine: one table at a time, one Delta commit per table per sync."""

from bronze_sync.sync.engine import sync_table
from bronze_sync.sync.job import Progress, SyncJob
from bronze_sync.sync.recorder import ValidationFailedError, run_table_sync
from bronze_sync.sync.result import SyncResult

__all__ = [
    "Progress",
    "SyncJob",
    "SyncResult",
    "ValidationFailedError",
    "run_table_sync",
    "sync_table",
]
