"""First sync of a table: create the bronze table from a stream of every source row."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from deltalake.exceptions import DeltaError

from bronze_sync.bronze.commit import create_table
from bronze_sync.bronze.properties import retention_properties
from bronze_sync.bronze.reader import count_flags
from bronze_sync.bronze.row_metadata import metadata_fields
from bronze_sync.bronze.tracking import SyncOp, bronze_schema, live_rows
from bronze_sync.config.models import TableConfig
from bronze_sync.diff.spill import KeyCollector, rows_in_memory
from bronze_sync.errors import BronzeError, BronzeSyncError
from bronze_sync.faults import fault_point
from bronze_sync.pii.source import PII_POLICY_FIELD, policy_text
from bronze_sync.rows.keys import check_null_keys
from bronze_sync.staging import StagingArea
from bronze_sync.sync.job import PhaseTimer, SyncJob
from bronze_sync.sync.result import SyncResult
from bronze_sync.sync.row_stamp import row_stamp

# Key partitions of an initial load whose key set outgrows the memory budget (its size is
# unknown until the last row arrives, so a generous fixed count).
INITIAL_PARTITIONS = 16


@dataclass(frozen=True)
class InitialRead:
    """What a first sync reads, and how the new table is laid out (its kind decides)."""

    batches: Callable[[], Iterator[pa.RecordBatch]]
    partition_by: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)


def initial_load(
    job: SyncJob,
    table: TableConfig,
    read_schema: pa.Schema,
    timer: PhaseTimer,
    lease_token: str,
    read: InitialRead | None = None,
) -> SyncResult:
    """Create bronze table `table` with every source row (or the kind's first slice), in one
    commit."""
    read = read or InitialRead(lambda: job.source.read_rows(table, read_schema, None))
    started = time.perf_counter()
    now = job.clock()
    keys = list(table.primary_key)
    stamp = row_stamp(job, table, now)
    schema = bronze_schema(read_schema, metadata_fields(stamp.names if stamp else ()))
    key_schema = pa.schema([read_schema.field(k) for k in keys])
    failures: list[BaseException] = []

    def rows(seen: KeyCollector) -> Iterator[pa.RecordBatch]:
        count = 0
        for batch in read.batches():
            part = pa.Table.from_batches([batch], schema=read_schema)
            check_null_keys(part, keys, table.name, "source")
            seen.add(part.select(keys))
            count += batch.num_rows
            job.progress(table.name, "extract", f"{count:,} rows loaded")
            rows = live_rows(part, SyncOp.INSERT, now)
            yield from (stamp.inserted(rows) if stamp else rows).to_batches()
        # Duplicates can span batches: check the whole key set before the commit happens.
        seen.check_unique(key_schema, table.name, "source")
        fault_point("after_extract")

    metadata = {**job.commit_identity(), **read.metadata, "mode": "initial", "lease": lease_token}
    metadata[PII_POLICY_FIELD] = policy_text(table.pii)
    with (
        StagingArea(job.staging_root, table.name, job.run.run_id) as staging,
        timer("extract"),
    ):
        # Forced partitions spill from the first key; otherwise only past the memory budget.
        seen = KeyCollector(
            staging.dir,
            keys,
            0 if job.diff_partitions else rows_in_memory(job.memory_budget_mb),
            job.diff_partitions or INITIAL_PARTITIONS,
        )
        reader = pa.RecordBatchReader.from_batches(schema, _capture(rows(seen), failures))
        try:
            delta = create_table(
                job.store,
                job.store.table_uri(table.name),
                reader,
                metadata,
                {**retention_properties(table), **read.properties},
                list(read.partition_by),
            )
        except DeltaError as exc:
            if failures:
                raise failures[0] from None
            raise BronzeError(f"cannot create the bronze table: {exc}", table=table.name) from None
    fault_point("after_commit")
    counts = count_flags(delta)
    return SyncResult(
        table=table.name,
        mode="initial",
        version=delta.version(),
        committed=True,
        inserted=counts["total"],
        extracted_rows=counts["total"],
        source_rows=counts["total"],
        full_key_scan=True,
        seconds=time.perf_counter() - started,
        counts=counts,
        phases=timer.seconds,
        diff_partitions=seen.parts if seen.spilled else 1,
    )


def _capture(
    batches: Iterator[pa.RecordBatch], failures: list[BaseException]
) -> Iterator[pa.RecordBatch]:
    """Re-yield `batches`, keeping our own error: the Delta writer wraps it in its own."""
    try:
        yield from batches
    except BronzeSyncError as exc:
        failures.append(exc)
        raise
