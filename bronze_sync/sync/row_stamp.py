"""The row metadata one sync writes: its time, batch and source system (per table config)."""

from __future__ import annotations

import datetime as dt

from deltalake import DeltaTable

from bronze_sync.bronze.commit import read_commit_info
from bronze_sync.bronze.row_metadata import METADATA_TYPES, RowStamp
from bronze_sync.config.models import TableConfig
from bronze_sync.sync.job import SyncJob


def row_stamp(
    job: SyncJob, table: TableConfig, now: dt.datetime, delta: DeltaTable | None = None
) -> RowStamp | None:
    """Return what this sync stamps on the rows it writes (None: no metadata columns)."""
    if not table.metadata_columns:
        return None
    names = tuple(n for n in METADATA_TYPES if n in table.metadata_columns)
    return RowStamp(
        names=names,
        source_system=table.source_system or job.source.system_name,
        batch_id=job.run.partition_key or job.run.run_id,
        now=now,
        table_created=_created(job, delta) if delta is not None else None,
        unhashed=(table.latest_column,) if table.latest_column else (),
    )


def _created(job: SyncJob, delta: DeltaTable) -> dt.datetime | None:
    """Return when the bronze table was created (its version 0), None once the log lost it."""
    info = read_commit_info(delta.table_uri, job.store.options(), 0)
    stamp = info.get("timestamp") if info else None
    if not isinstance(stamp, int):
        return None
    return dt.datetime.fromtimestamp(stamp / 1000, dt.UTC)
