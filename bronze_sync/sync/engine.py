"""Sync one table: extract changes, diff outside Delta, and write ONE Delta commit."""

from __future__ import annotations

import datetime as dt
import time

import pyarrow as pa
from deltalake import DeltaTable

from bronze_sync.bronze.commit import add_columns, backfill_tracking
from bronze_sync.bronze.properties import ensure_retention_properties
from bronze_sync.bronze.reader import BronzeState, count_flags
from bronze_sync.bronze.rewrite import RewriteResult, rewrite_commit
from bronze_sync.bronze.schema import SchemaPlan, check_source_columns, plan_schema
from bronze_sync.config.models import TableConfig
from bronze_sync.diff.keys import check_keys, check_null_keys, sample_keys
from bronze_sync.diff.plan import PlanInput, SyncPlan
from bronze_sync.errors import BronzeError, CommitConflictError, MassDeleteError
from bronze_sync.metadata import pipeline_config
from bronze_sync.staging import StagingArea
from bronze_sync.sync.changes import extract_changes, initial_state, retained_keys, saved_token
from bronze_sync.sync.diff_space import DiffSpace
from bronze_sync.sync.initial import initial_load
from bronze_sync.sync.job import PhaseTimer, SyncJob
from bronze_sync.sync.result import SyncResult

COMMIT_ATTEMPTS = 5


def sync_table(job: SyncJob, table: TableConfig) -> SyncResult:
    """Bring bronze table `table` in step with the source; return what changed."""
    timer = PhaseTimer()
    job.progress(table.name, "schema", "reading the source schema")
    with timer("schema"):
        source_schema = job.source.describe(table)
        check_source_columns(source_schema, table.name)
    delta = job.store.open(job.store.table_uri(table.name))
    if delta is None:
        plain = pa.schema([pa.field(f.name, f.type) for f in source_schema])
        try:
            result = initial_load(job, table, plain, timer)
            result.source_state = initial_state(job, table)
            return result
        except CommitConflictError:
            # Another writer created the table first: sync against what it wrote.
            delta = job.store.open(job.store.table_uri(table.name))
            if delta is None:
                raise
    # A drifted retention property is repaired by its own metadata-only commit, before the sync.
    repaired = ensure_retention_properties(delta, table)
    if repaired:
        job.progress(table.name, "schema", f"repaired table properties: {'; '.join(repaired)}")
    result = _incremental(job, table, source_schema, delta, timer)
    result.properties_repaired = repaired
    return result


def _incremental(
    job: SyncJob, table: TableConfig, source_schema: pa.Schema, delta: DeltaTable, timer: PhaseTimer
) -> SyncResult:
    started = time.perf_counter()
    keys = list(table.primary_key)
    state_row = pipeline_config.read_state(job.meta, table.name) or {}
    last_purge: dt.datetime | None = state_row.get("LastPurgeDate")
    purge_recorded: dt.datetime | None = state_row.get("LastPurgeRecorded")
    start_version = delta.version()
    with StagingArea(job.staging_root, table.name, job.run.run_id) as staging:
        space = DiffSpace.for_table(
            delta, table, staging.dir, job.memory_budget_mb, job.diff_partitions
        )
        schema_plan, state = _plan_and_state(space, delta, source_schema, table, timer)
        first_plan = schema_plan
        read_schema = pa.schema([schema_plan.target.field(n) for n in source_schema.names])
        since = _since(table, state)
        token = saved_token(state_row)
        changes = extract_changes(job, table, staging, read_schema, since, token, timer)
        if changes is None:
            extracted = _extract(job, table, staging, read_schema, since, timer)
            source_keys = _scan_keys(
                job, table, staging, read_schema, since, extracted, timer, space.partitioned
            )
        else:
            extracted, source_keys = changes.rows, changes.source_keys
            since = since if changes.mode == "changes" else None
        retained = retained_keys(delta, table, extracted)
        source_rows = source_keys.num_rows if source_keys is not None else None
        with timer("keys"):
            source_keys = space.keep_keys(source_keys, table.name)
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            job.progress(table.name, "diff", f"comparing {extracted.num_rows:,} rows with bronze")
            with timer("diff"):
                plan = space.plan(
                    PlanInput(
                        key_columns=tuple(keys),
                        extracted=extracted,
                        state=state,
                        source_keys=source_keys,
                        deleted_keys=changes.deleted_keys if changes else None,
                        retained_keys=retained,
                        last_purge=last_purge,
                        purge_recorded=purge_recorded,
                        purge_window_days=table.purge_window_days,
                        trust_modified=job.source.modified_marks_every_change
                        and changes is None
                        and not first_plan.added,
                        now=job.clock(),
                        fetch_source=lambda k: _fetch(job, table, read_schema, k),
                    )
                )
            _guard(job, table, plan)
            try:
                if _evolve_schema(job, table, delta, schema_plan, timer):
                    # Schema commits may rewrite files the plan points at: plan again.
                    schema_plan, state = _plan_and_state(space, delta, source_schema, table, timer)
                    continue
                outcome = _commit(job, table, delta, state, plan, timer)
                break
            except CommitConflictError:
                if attempt == COMMIT_ATTEMPTS:
                    raise
                job.progress(table.name, "commit", "another writer committed first; retrying")
                delta = job.store.open(job.store.table_uri(table.name)) or delta
                schema_plan, state = _plan_and_state(space, delta, source_schema, table, timer)
        else:
            raise CommitConflictError("the table kept changing while syncing", table=table.name)
        with timer("validate"):
            counts = count_flags(
                job.store.open(job.store.table_uri(table.name), outcome.version) or delta
            )
    scanned = source_rows is not None
    return SyncResult(
        table=table.name,
        mode=changes.mode if changes else "full" if since is None else "incremental",
        version=outcome.version,
        committed=outcome.version != start_version,
        inserted=plan.count("inserted"),
        updated=outcome.updated,
        deleted=plan.count("deleted"),
        purged=plan.count("purged"),
        undeleted=outcome.undeleted,
        unchanged=outcome.unchanged + plan.count("unmodified"),
        late_inserts=plan.count("late_inserts"),
        extracted_rows=extracted.num_rows,
        source_rows=source_rows - plan.count("vanished_during_sync")
        if source_rows is not None
        else None,
        full_key_scan=scanned,
        since=since,
        seconds=time.perf_counter() - started,
        counts=counts,
        columns_added=[f.name for f in first_plan.added],
        columns_dropped=list(first_plan.dropped),
        tracking_added=bool(first_plan.missing_tracking),
        samples={k: sample_keys(v, keys) for k, v in plan.samples.items() if v.num_rows},
        phases=timer.seconds,
        retries=attempt - 1,
        diff_partitions=space.parts,
        source_state=changes.source_state if changes else None,
    )


def _plan_and_state(
    space: DiffSpace,
    delta: DeltaTable,
    source_schema: pa.Schema,
    table: TableConfig,
    timer: PhaseTimer,
) -> tuple[SchemaPlan, BronzeState]:
    with timer("state"):
        state = space.read_state(delta, table)
    plan = plan_schema(source_schema, state.schema, table.name)
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


def _extract(
    job: SyncJob,
    table: TableConfig,
    staging: StagingArea,
    schema: pa.Schema,
    since: dt.datetime | None,
    timer: PhaseTimer,
) -> pa.Table:
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
) -> pa.Table | None:
    if not table.track_deletes:
        return None
    if since is None:
        return extracted.select(table.primary_key)
    key_schema = pa.schema([schema.field(k) for k in table.primary_key])
    job.progress(table.name, "keys", "scanning the source's current keys")
    with timer("keys"):
        keys = staging.stage("keys", job.source.read_keys(table, schema), key_schema)
        # A partitioned diff looks for repeated keys one partition at a time (less memory).
        check = check_null_keys if partitioned else check_keys
        check(keys, table.primary_key, table.name, "source key scan")
    return keys


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


def _evolve_schema(
    job: SyncJob, table: TableConfig, delta: DeltaTable, schema_plan: SchemaPlan, timer: PhaseTimer
) -> bool:
    """Add missing tracking and new source columns; return True when files were rewritten."""
    if not schema_plan.changes_schema:
        return False
    with timer("commit"):
        if schema_plan.added:
            job.progress(
                table.name, "commit", f"adding columns {[f.name for f in schema_plan.added]}"
            )
            add_columns(delta, schema_plan.added)
        if schema_plan.missing_tracking:
            job.progress(table.name, "commit", "adding tracking columns")
            add_columns(delta, schema_plan.missing_tracking)
            backfill_tracking(delta, job.clock())
    return True


def _commit(
    job: SyncJob,
    table: TableConfig,
    delta: DeltaTable,
    state: BronzeState,
    plan: SyncPlan,
    timer: PhaseTimer,
) -> RewriteResult:
    edits = plan.edits
    if not (edits.upserts.num_rows or edits.flags.num_rows or edits.inserts.num_rows):
        job.progress(table.name, "commit", "no changes; nothing to commit")
        return RewriteResult(version=delta.version(), committed=False)
    latest = job.store.open(job.store.table_uri(table.name))
    if latest is not None and latest.version() != state.version:
        raise CommitConflictError("the table changed since it was read", table=table.name)
    job.progress(
        table.name,
        "commit",
        f"writing {edits.inserts.num_rows:,} inserts, "
        f"{edits.upserts.num_rows:,} candidate updates, {edits.flags.num_rows:,} flags",
    )
    metadata = {
        "run_id": job.run.run_id,
        "partition_key": job.run.partition_key,
        "mode": "sync",
        **{k: v for k, v in plan.counts.items() if k not in {"candidates"}},
    }
    with timer("commit"):
        result = rewrite_commit(delta, edits, table.primary_key, job.clock(), metadata)
    if not result.committed:
        job.progress(table.name, "commit", "candidates were unchanged; nothing to commit")
    return result
