"""Sync one table: extract changes, diff outside Delta, and write ONE Delta commit.

The caller holds the table's lease. The commit is pinned to the bronze version the plan read:
when another writer committed in between, nothing lands and the whole sync runs again from a
fresh extraction, so a row is never planned from an extract older than what bronze holds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time

import pyarrow as pa
from deltalake import DeltaTable

from bronze_sync.bronze.lease import TableLease
from bronze_sync.bronze.properties import ensure_retention_properties
from bronze_sync.bronze.reader import BronzeState, count_flags
from bronze_sync.bronze.rewrite import RewriteResult, TableChange, rewrite_commit
from bronze_sync.bronze.schema import SchemaPlan, check_source_columns, plan_schema
from bronze_sync.config.models import TableConfig
from bronze_sync.diff.keys import sample_keys
from bronze_sync.diff.plan import PlanInput, SyncPlan
from bronze_sync.errors import BronzeError, CommitConflictError, MassDeleteError
from bronze_sync.faults import fault_point
from bronze_sync.metadata import pipeline_config
from bronze_sync.metadata.audit import AuditEntry, write_audit
from bronze_sync.staging import StagingArea
from bronze_sync.sync.changes import initial_state, retained_keys
from bronze_sync.sync.diff_space import DiffSpace
from bronze_sync.sync.evolve import widen_columns
from bronze_sync.sync.extract import Extraction, extract, read_fill
from bronze_sync.sync.initial import initial_load
from bronze_sync.sync.job import PhaseTimer, SyncJob
from bronze_sync.sync.result import SyncResult

SYNC_ATTEMPTS = 5
DROPPED_COLUMNS = "DroppedColumns"


def sync_table(job: SyncJob, table: TableConfig, lease: TableLease) -> SyncResult:
    """Bring bronze table `table` in step with the source; return what changed."""
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
    job.progress(table.name, "schema", "reading the source schema")
    with timer("schema"):
        source_schema = job.source.describe(table)
        check_source_columns(source_schema, table.name)
    delta = job.store.open(job.store.table_uri(table.name))
    if delta is None:
        lease.ensure()
        plain = pa.schema([pa.field(f.name, f.type) for f in source_schema])
        result = initial_load(job, table, plain, timer, lease.token)
        result.source_state = initial_state(job, table)
        result.retries = retries
        return result
    repaired = _repair_properties(job, table, delta)
    result = _incremental(job, table, source_schema, delta, timer, lease)
    result.properties_repaired = repaired
    result.retries = retries
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


def _incremental(
    job: SyncJob,
    table: TableConfig,
    source_schema: pa.Schema,
    delta: DeltaTable,
    timer: PhaseTimer,
    lease: TableLease,
) -> SyncResult:
    started = time.perf_counter()
    state_row = pipeline_config.read_state(job.meta, table.name) or {}
    dropped_before = json.loads(state_row.get(DROPPED_COLUMNS) or "[]")
    with StagingArea(job.staging_root, table.name, job.run.run_id) as staging:
        space = DiffSpace.for_table(
            delta, table, staging.dir, job.memory_budget_mb, job.diff_partitions
        )
        schema_plan, state = _plan_and_state(space, delta, source_schema, table, dropped_before)
        widened = [w.describe() for w in schema_plan.widened]
        if schema_plan.widened:
            delta = widen_columns(job, table, delta, schema_plan, lease, timer)
            schema_plan, state = _plan_and_state(space, delta, source_schema, table, dropped_before)
        read_schema = schema_plan.read_schema(source_schema.names)
        since = _since(table, state)
        extraction = extract(
            job, table, staging, read_schema, since, state_row, timer, space.partitioned
        )
        fill = read_fill(job, table, staging, schema_plan, extraction, timer)
        source_rows = extraction.source_keys.num_rows if extraction.source_keys else None
        with timer("keys"):
            kept = space.keep_keys(extraction.source_keys, table.name)
        extraction = dataclasses.replace(extraction, source_keys=kept)
        retained = retained_keys(delta, table, extraction.rows)
        # Without a fill read, re-read rows are the only way new columns get their values.
        unfilled = bool(schema_plan.fill_columns) and fill is None
        with timer("diff"):
            plan = _plan(job, table, space, state_row, state, extraction, retained, unfilled)
        _guard(job, table, plan)
        result = _planned_result(table, state, plan, extraction, schema_plan, source_rows, space)
        result.columns_widened = widened
        outcome = _commit(job, table, delta, state, plan, schema_plan, fill, result, lease, timer)
        with timer("validate"):
            counts = count_flags(
                job.store.open(job.store.table_uri(table.name), outcome.version) or delta
            )
    result.version, result.committed = outcome.version, outcome.committed
    result.updated, result.undeleted = outcome.updated, outcome.undeleted
    result.filled = outcome.filled
    result.unchanged = outcome.unchanged + plan.count("unmodified")
    result.counts, result.phases = counts, timer.seconds
    result.seconds = time.perf_counter() - started
    return result


def _plan_and_state(
    space: DiffSpace,
    delta: DeltaTable,
    source_schema: pa.Schema,
    table: TableConfig,
    dropped_before: list[str],
) -> tuple[SchemaPlan, BronzeState]:
    state = space.read_state(delta, table)
    plan = plan_schema(source_schema, state.schema, table.name, dropped_before)
    missing_keys = [k for k in table.primary_key if k not in state.schema.names]
    if missing_keys:
        raise BronzeError(
            f"bronze table has no primary key column {', '.join(missing_keys)}", table=table.name
        )
    return plan, state


def _since(table: TableConfig, state: BronzeState) -> dt.datetime | None:
    if not table.modified_column or state.watermark is None:
        return None
    return state.watermark - dt.timedelta(minutes=table.watermark_overlap_minutes)


def _plan(
    job: SyncJob,
    table: TableConfig,
    space: DiffSpace,
    state_row: dict[str, object],
    state: BronzeState,
    extraction: Extraction,
    retained: pa.Table | None,
    unfilled: bool,
) -> SyncPlan:
    read_schema = extraction.rows.schema
    job.progress(table.name, "diff", f"comparing {extraction.rows.num_rows:,} rows with bronze")
    inp = PlanInput(
        key_columns=tuple(table.primary_key),
        extracted=extraction.rows,
        state=state,
        source_keys=extraction.source_keys,
        deleted_keys=extraction.deleted_keys,
        retained_keys=retained,
        last_purge=state_row.get("LastPurgeDate"),  # type: ignore[arg-type]
        purge_recorded=state_row.get("LastPurgeRecorded"),  # type: ignore[arg-type]
        purge_window_days=table.purge_window_days,
        trust_modified=job.source.modified_marks_every_change
        and not extraction.from_change_feed
        and not unfilled,
        skip_older=table.skip_older_rows,
        now=job.clock(),
        fetch_source=lambda k: _fetch(job, table, read_schema, k),
    )
    return space.plan(inp)


def _fetch(job: SyncJob, table: TableConfig, schema: pa.Schema, keys: pa.Table) -> pa.Table:
    batches = list(job.source.read_rows_by_keys(table, schema, keys))
    return pa.Table.from_batches(batches, schema=schema)


def _guard(job: SyncJob, table: TableConfig, plan: SyncPlan) -> None:
    deleted, active = plan.count("deleted"), plan.active_before
    if job.allow_mass_delete or table.allow_mass_delete or not active or not deleted:
        return
    share = deleted / active
    if share > table.max_delete_fraction:
        raise MassDeleteError(
            f"this sync would flag {deleted:,} of {active:,} active rows ({share:.1%}) as deleted, "
            f"above max_delete_fraction {table.max_delete_fraction:.0%} "
            f"({plan.count('purged'):,} purges not counted); nothing was written. If the source "
            "really lost these rows, re-run with allow_mass_delete (CLI: --allow-mass-delete)",
            table=table.name,
        )


def _planned_result(
    table: TableConfig,
    state: BronzeState,
    plan: SyncPlan,
    extraction: Extraction,
    schema_plan: SchemaPlan,
    source_rows: int | None,
    space: DiffSpace,
) -> SyncResult:
    """Return the result as far as the plan knows it (the commit adds its own tallies)."""
    keys = list(table.primary_key)
    return SyncResult(
        table=table.name,
        mode=extraction.mode,
        version=state.version,
        committed=False,
        inserted=plan.count("inserted"),
        deleted=plan.count("deleted"),
        purged=plan.count("purged"),
        late_inserts=plan.count("late_inserts"),
        unmodified=plan.count("unmodified"),
        stale_skipped=plan.count("stale_skipped"),
        extracted_rows=extraction.rows.num_rows,
        source_rows=source_rows - plan.count("vanished_during_sync")
        if source_rows is not None
        else None,
        full_key_scan=source_rows is not None,
        since=extraction.since,
        columns_added=[f.name for f in schema_plan.added],
        columns_dropped=list(schema_plan.dropped),
        columns_readded=list(schema_plan.readded),
        tracking_added=bool(schema_plan.missing_tracking),
        samples={k: sample_keys(v, keys) for k, v in plan.samples.items() if v.num_rows},
        diff_partitions=space.parts,
        source_state=extraction.source_state,
    )


def _commit(
    job: SyncJob,
    table: TableConfig,
    delta: DeltaTable,
    state: BronzeState,
    plan: SyncPlan,
    schema_plan: SchemaPlan,
    fill: pa.Table | None,
    result: SyncResult,
    lease: TableLease,
    timer: PhaseTimer,
) -> RewriteResult:
    edits = plan.edits
    change = None
    if schema_plan.rewrites_table:
        change = TableChange(schema_plan.table_schema(), fill, schema_plan.fill_columns)
    if change is None and not (
        edits.upserts.num_rows or edits.flags.num_rows or edits.inserts.num_rows
    ):
        job.progress(table.name, "commit", "no changes; nothing to commit")
        return RewriteResult(version=state.version, committed=False)
    if delta.version() != state.version:
        raise CommitConflictError("the table changed since it was read", table=table.name)
    job.progress(
        table.name,
        "commit",
        f"writing {edits.inserts.num_rows:,} inserts, "
        f"{edits.upserts.num_rows:,} candidate updates, {edits.flags.num_rows:,} flags"
        + ("; rewriting every file for the new schema" if change else ""),
    )
    metadata = {**job.commit_identity(), **result.commit_metadata(), "lease": lease.token}

    with timer("commit"):
        outcome = rewrite_commit(
            delta,
            edits,
            table.primary_key,
            job.clock(),
            metadata,
            token=lease.token,
            change=change,
            before_commit=lease.before_commit,
        )
    if outcome.committed:
        fault_point("after_commit")
    else:
        job.progress(table.name, "commit", "candidates were unchanged; nothing to commit")
    return outcome
