"""Stage what the source holds for one sync: changed rows, current keys, new column values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from bronze_sync.bronze.schema import SchemaPlan
from bronze_sync.config.models import TableConfig
from bronze_sync.faults import fault_point
from bronze_sync.rows.keys import check_keys, check_null_keys
from bronze_sync.staging import StagingArea
from bronze_sync.sync.changes import extract_changes, saved_token
from bronze_sync.sync.job import PhaseTimer, SyncJob
from bronze_sync.sync.key_check import FULL, ChecksumScan, KeyScan
from bronze_sync.sync.partitioned import describe_values


@dataclass(frozen=True)
class Extraction:
    """The source side of one sync, staged and conformed to bronze types."""

    rows: pa.Table
    source_keys: pa.Table | None  # every current key (None: no full key comparison)
    deleted_keys: pa.Table | None  # keys a change feed reported deleted
    mode: str  # full | incremental | changes
    since: dt.datetime | None
    source_state: dict[str, str] | None = None
    # Delete detection: which path ran (key_check.FULL / CHECKSUM), why, the source's key
    # count and, for checksums, the buckets whose keys were read (None: no key scan).
    scan: KeyScan | None = None

    @property
    def from_change_feed(self) -> bool:
        """Return True when the rows came from the source's change feed."""
        return self.source_state is not None

    @property
    def complete(self) -> bool:
        """Return True when `rows` hold every current source row (a full read)."""
        return self.mode == "full"


def extract(
    job: SyncJob,
    table: TableConfig,
    staging: StagingArea,
    schema: pa.Schema,
    since: dt.datetime | None,
    state_row: Mapping[str, object],
    timer: PhaseTimer,
    partitioned: bool,
    checksum: ChecksumScan | str | None = None,
    staged: pa.Table | None = None,
) -> Extraction:
    """Stage the changed rows and, when deletes are tracked, the source's current keys.

    `checksum` is the key-checksum path to try, or why every key must be compared; `staged`
    holds rows already extracted since `since` (a no-op proof that failed), read only once.
    """
    changes = extract_changes(job, table, staging, schema, since, saved_token(state_row), timer)
    if changes is not None:
        fault_point("after_extract")
        return Extraction(
            rows=changes.rows,
            source_keys=changes.source_keys,
            deleted_keys=changes.deleted_keys,
            mode=changes.mode,
            since=since if changes.mode == "changes" else None,
            source_state=changes.source_state,
        )
    rows = staged if staged is not None else extract_rows(job, table, staging, schema, since, timer)
    fault_point("after_extract")
    scan = _scan_keys(job, table, staging, schema, since, rows, timer, partitioned, checksum)
    fault_point("after_keys")
    mode = "full" if since is None else "incremental"
    if scan is None:
        return Extraction(rows=rows, source_keys=None, deleted_keys=None, mode=mode, since=since)
    return Extraction(
        rows=rows, source_keys=scan.keys, deleted_keys=None, mode=mode, since=since, scan=scan
    )


def extract_partitions(
    job: SyncJob,
    table: TableConfig,
    staging: StagingArea,
    schema: pa.Schema,
    values: Sequence[Any],
    timer: PhaseTimer,
) -> Extraction:
    """Stage every source row of the given partition values (their complete content)."""
    job.progress(table.name, "extract", f"reading partition values {describe_values(values)}")
    with timer("extract"):
        rows = staging.stage("rows", job.source.read_partitions(table, schema, values), schema)
        check_keys(rows, table.primary_key, table.name, "partition rows")
    fault_point("after_extract")
    keys = rows.select(table.primary_key) if table.track_deletes else None
    return Extraction(rows=rows, source_keys=keys, deleted_keys=None, mode="partitions", since=None)


def read_fill(
    job: SyncJob,
    table: TableConfig,
    staging: StagingArea,
    schema_plan: SchemaPlan,
    extraction: Extraction,
    timer: PhaseTimer,
) -> pa.Table | None:
    """Stage the key and the added (or re-added) columns of every source row, when needed.

    A full read already holds every row's values; otherwise rows outside the watermark window
    would keep NULL where the source holds a value (a column added with a default).
    """
    columns = schema_plan.fill_columns
    if not columns or extraction.complete:
        return None
    keys = list(table.primary_key)
    fill_schema = pa.schema([schema_plan.target.field(n) for n in [*keys, *columns]])
    job.progress(table.name, "extract", f"reading {', '.join(columns)} of every source row")
    with timer("extract"):
        rows = staging.stage("fill", job.source.read_columns(table, fill_schema), fill_schema)
        check_keys(rows, keys, table.name, "new column read")
    return rows


def extract_rows(
    job: SyncJob,
    table: TableConfig,
    staging: StagingArea,
    schema: pa.Schema,
    since: dt.datetime | None,
    timer: PhaseTimer,
) -> pa.Table:
    """Stage the source rows modified at or after `since` (every row when None)."""
    what = f"rows modified since {since.isoformat()}" if since else "all rows"
    job.progress(table.name, "extract", f"extracting {what}")
    total = 0

    def count(batch: pa.RecordBatch) -> None:
        nonlocal total
        total += batch.num_rows
        job.progress(table.name, "extract", f"{total:,} rows staged")

    with timer("extract"):
        rows = staging.stage("rows", job.source.read_rows(table, schema, since), schema, count)
        check_keys(rows, table.primary_key, table.name, "extracted rows")
    return rows


def _scan_keys(
    job: SyncJob,
    table: TableConfig,
    staging: StagingArea,
    schema: pa.Schema,
    since: dt.datetime | None,
    extracted: pa.Table,
    timer: PhaseTimer,
    partitioned: bool,
    checksum: ChecksumScan | str | None,
) -> KeyScan | None:
    if not table.track_deletes:
        return None
    if since is None:
        keys = extracted.select(table.primary_key)
        return KeyScan(keys, keys.num_rows, FULL, "every row was read")
    reason = checksum if isinstance(checksum, str) else None
    if callable(checksum):
        found = checksum(extracted)
        if isinstance(found, KeyScan):
            return found
        reason = found
    keys = _read_every_key(job, table, staging, schema, timer, partitioned)
    return KeyScan(keys, keys.num_rows, FULL, reason or "key checksums not tried")


def _read_every_key(
    job: SyncJob,
    table: TableConfig,
    staging: StagingArea,
    schema: pa.Schema,
    timer: PhaseTimer,
    partitioned: bool,
) -> pa.Table:
    key_schema = pa.schema([schema.field(k) for k in table.primary_key])
    job.progress(table.name, "keys", "scanning the source's current keys")
    with timer("keys"):
        keys = staging.stage("keys", job.source.read_keys(table, schema), key_schema)
        # A partitioned diff looks for repeated keys one partition at a time (less memory).
        check = check_null_keys if partitioned else check_keys
        check(keys, table.primary_key, table.name, "source key scan")
    return keys
