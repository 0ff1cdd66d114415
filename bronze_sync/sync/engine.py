"""Sync one table: extract changes, diff outside Delta, and write ONE Delta commit.

The caller holds the table's lease. The commit is pinned to the bronze version the plan read:
when another writer committed in between, nothing lands and the whole sync runs again from a
fresh extraction, so a row is never planned from an extract older than what bronze holds.
"""

from __future__ import annotations

import dataclasses
import json
import os

import pyarrow as pa
from deltalake import DeltaTable

from bronze_sync.bronze.lease import TableLease
from bronze_sync.bronze.properties import ensure_retention_properties
from bronze_sync.bronze.reader import count_flags
from bronze_sync.bronze.row_metadata import RECORD_HASH, metadata_fields
from bronze_sync.bronze.schema import SchemaPlan, check_source_columns, plan_schema
from bronze_sync.config.engine import SPARK
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import CommitConflictError
from bronze_sync.metadata import pipeline_config
from bronze_sync.metadata.audit import AuditEntry, write_audit
from bronze_sync.pii.source import PII_POLICY, check_policy_unchanged, policy_text, protected
from bronze_sync.sync import static
from bronze_sync.sync.changes import initial_state
from bronze_sync.sync.history_step import keep_history
from bronze_sync.sync.incremental import DROPPED_COLUMNS, sync_existing
from bronze_sync.sync.initial import initial_load
from bronze_sync.sync.job import PhaseTimer, SyncJob
from bronze_sync.sync.kinds import KindScope, initial_read, sync_scope
from bronze_sync.sync.result import SyncResult
from bronze_sync.sync.spark.initial import spark_initial_load
from bronze_sync.sync.spark.run import sync_with_spark

SYNC_ATTEMPTS = 5


def sync_table(job: SyncJob, table: TableConfig, lease: TableLease) -> SyncResult:
    """Bring bronze table `table` in step with the source; return what changed."""
    # PII is protected at the source boundary: nothing below ever sees a clear value.
    job = dataclasses.replace(job, source=protected(job.source, table, os.environ, job.meta))
    for attempt in range(1, SYNC_ATTEMPTS + 1):
        try:
            return _sync_once(job, table, lease, attempt - 1)
        except CommitConflictError:
            if attempt == SYNC_ATTEMPTS:
                raise
            job.progress(table.name, "commit", "another writer committed first; extracting again")
    raise CommitConflictError("the table kept changing while syncing", table=table.name)


def _sync_once(job: SyncJob, table: TableConfig, lease: TableLease, retries: int) -> SyncResult:
    timer = PhaseTimer()
    table = static.upsert_only(table)
    job.progress(table.name, "schema", "reading the source schema")
    with timer("schema"):
        source_schema = job.source.describe(table)
        check_source_columns(source_schema, table.name, metadata_fields(table.metadata_columns))
    delta = job.store.open(job.store.table_uri(table.name))
    if delta is None:
        lease.ensure()
        plain = pa.schema([pa.field(f.name, f.type) for f in source_schema])
        read = initial_read(job, table, plain)
        if table.engine == SPARK:
            result = spark_initial_load(job, table, plain, timer, lease.token)
        else:
            result = initial_load(job, table, plain, timer, lease.token, read)
        result.source_state = initial_state(job, table)
        result.partition_values = read.metadata.get("partition_values")
        result.fingerprint = read.metadata.get("fingerprint")
        result.loaded_from = read.metadata.get("loaded_from")
        result.retries = retries
        with timer("history"):
            result.note_history(*keep_history(job, table, result.version))
        result.phases = dict(timer.seconds)
        result.columns_not_copied = job.source.columns_not_copied(table)
        result.pii_protected = dict(table.pii)
        result.pii_policy = policy_text(table.pii)
        return result
    state_row = pipeline_config.read_state(job.meta, table.name) or {}
    stored = state_row.get(PII_POLICY)
    check_policy_unchanged(table, str(stored) if stored else None)  # before any write
    repaired = _repair_properties(job, table, delta)
    scope = sync_scope(job, table, delta, source_schema, state_row)
    if scope.skip_reason is not None and _schema_changes(delta, source_schema, table, state_row):
        scope = dataclasses.replace(scope, skip_reason=None)  # a new column is filled now
    if scope.skip_reason is not None:
        result = _skipped(job, table, delta, scope)
        result.note_history(*keep_history(job, table, delta.version()))
    elif table.engine == SPARK and isinstance(
        spark_plan := _spark_schema(delta, source_schema, table, state_row), SchemaPlan
    ):
        result = sync_with_spark(
            job, table, delta, spark_plan, source_schema.names, timer, lease, state_row
        )
        result.engine = SPARK
    else:
        if table.engine == SPARK:
            job.progress(table.name, "schema", f"this sync runs on the native engine: {spark_plan}")
        result = sync_existing(job, table, source_schema, delta, timer, lease, state_row, scope)
        result.engine_note = str(spark_plan) if table.engine == SPARK else None
    result.properties_repaired = repaired
    result.retries = retries
    result.columns_not_copied = job.source.columns_not_copied(table)
    result.pii_protected = dict(table.pii)
    result.pii_policy = policy_text(table.pii)
    return result


def _repair_properties(job: SyncJob, table: TableConfig, delta: DeltaTable) -> list[str]:
    """Repair drifted retention properties in their own (audited) metadata-only commit."""
    metadata = {**job.commit_identity(), "mode": "properties"}
    repaired = ensure_retention_properties(delta, table, metadata)
    if repaired:
        delta.update_incremental()
        job.progress(table.name, "schema", f"repaired table properties: {'; '.join(repaired)}")
        now = job.clock()
        entry = AuditEntry(
            "TablePropertiesRepair",
            table.name,
            now,
            now,
            delta_version=delta.version(),
            notes="; ".join(repaired),
        )
        write_audit(job.meta, job.run, [entry], now)
    return repaired


def _spark_schema(
    delta: DeltaTable, source_schema: pa.Schema, table: TableConfig, state_row: dict[str, object]
) -> SchemaPlan | str:
    """Return the schema plan a spark sync writes under, or why this sync runs natively.

    New and returning columns are filled on the cluster (spark.evolve); widened types and
    managed columns a table lacks are rewritten by the native engine, as is a fill of a table
    keeping metadata columns or columns the source dropped. A column gone from the source
    changes no schema (bronze keeps it), so the cluster syncs on.
    """
    dropped_before = json.loads(str(state_row.get(DROPPED_COLUMNS) or "[]"))
    bronze = pa.schema(delta.schema().to_arrow())
    plan = plan_schema(
        source_schema, bronze, table.name, dropped_before, metadata_fields(table.metadata_columns)
    )
    if plan.widened or plan.missing_tracking or plan.missing_metadata:
        return "bronze's column types or managed columns change (the native engine rewrites them)"
    if plan.fill_columns and (table.metadata_columns or plan.dropped):
        # Filled rows are written as whole images: their stamps and the columns bronze keeps
        # for the source are native's to rewrite.
        return f"columns {list(plan.fill_columns)} are filled natively for this table"
    if plan.dropped and RECORD_HASH in table.metadata_columns:
        # record_hash covers bronze's copy of a dropped column, which only native reads.
        return f"record_hash covers columns the source dropped {sorted(plan.dropped)}"
    return plan


def _schema_changes(
    delta: DeltaTable, source_schema: pa.Schema, table: TableConfig, state_row: dict[str, object]
) -> bool:
    """Return True when the source's columns differ from bronze's in a way a sync applies."""
    dropped_before = json.loads(str(state_row.get(DROPPED_COLUMNS) or "[]"))
    bronze = delta.to_pyarrow_dataset().schema
    plan = plan_schema(
        source_schema, bronze, table.name, dropped_before, metadata_fields(table.metadata_columns)
    )
    return plan.rewrites_table or bool(plan.widened)


def _skipped(job: SyncJob, table: TableConfig, delta: DeltaTable, scope: KindScope) -> SyncResult:
    """Return the result of a sync its kind found nothing to do for (no read, no commit)."""
    job.progress(table.name, "schema", f"nothing to do: {scope.skip_reason}")
    return SyncResult(
        table=table.name,
        mode="skipped",
        version=delta.version(),
        committed=False,
        counts=count_flags(delta),
        skip_reason=scope.skip_reason,
        fingerprint=scope.fingerprint,
        partition_values=scope.partition_values,
    )
