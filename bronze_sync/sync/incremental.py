"""Sync a table that exists in bronze: plan against its state and write ONE pinned commit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time

import pyarrow as pa
from deltalake import DeltaTable

from bronze_sync.bronze.lease import TableLease
from bronze_sync.bronze.reader import BronzeState, count_flags
from bronze_sync.bronze.rewrite import RewriteResult, TableChange, rewrite_commit
from bronze_sync.bronze.row_metadata import metadata_fields
from bronze_sync.bronze.schema import SchemaPlan, plan_schema
from bronze_sync.config.kinds import SCD2
from bronze_sync.config.models import TableConfig
from bronze_sync.diff.plan import PlanInput, SyncPlan
from bronze_sync.errors import BronzeError, CommitConflictError
from bronze_sync.faults import fault_point
from bronze_sync.history.spool import ChangeSpool
from bronze_sync.pii.source import PII_POLICY_FIELD, policy_text
from bronze_sync.rows.keys import sample_keys
from bronze_sync.staging import StagingArea
from bronze_sync.sync import scd2
from bronze_sync.sync.changes import retained_keys
from bronze_sync.sync.diff_space import DiffSpace
from bronze_sync.sync.evolve import widen_columns
from bronze_sync.sync.extract import Extraction, extract, extract_partitions, read_fill
from bronze_sync.sync.history_step import keep_history
from bronze_sync.sync.job import PhaseTimer, SyncJob
from bronze_sync.sync.key_check import CHECKSUM, checksum_scan, full_scan_reason
from bronze_sync.sync.kinds import KindScope
from bronze_sync.sync.mass_delete import check_mass_delete
from bronze_sync.sync.noop import (
    NoopTry,
    key_state_after,
    saved_key_state,
    try_noop,
    window_since,
)
from bronze_sync.sync.result import SyncResult
from bronze_sync.sync.row_stamp import row_stamp

DROPPED_COLUMNS = "DroppedColumns"


def sync_existing(
    job: SyncJob,
    table: TableConfig,
    source_schema: pa.Schema,
    delta: DeltaTable,
    timer: PhaseTimer,
    lease: TableLease,
    state_row: dict[str, object],
    scope: KindScope,
) -> SyncResult:
    """Bring an existing bronze table in step with the source (within the kind's scope)."""
    started = time.perf_counter()
    dropped_before = json.loads(str(state_row.get(DROPPED_COLUMNS) or "[]"))
    full_reason = full_scan_reason(
        job, table, source_schema, state_row, scope.values is not None or scope.full_read
    )
    hashed = full_reason is None and table.track_deletes
    with StagingArea(job.staging_root, table.name, job.run.run_id) as staging:
        record = saved_key_state(job, table, delta, state_row, scope, full_reason)
        tried = NoopTry()
        if record is not None:
            tried = try_noop(
                job, table, source_schema, delta, staging, timer, record, dropped_before
            )
        if tried.result is not None:
            tried.result.phases = timer.seconds
            tried.result.seconds = time.perf_counter() - started
            return tried.result
        space = DiffSpace.for_table(
            delta, table, staging.dir, job.memory_budget_mb, job.diff_partitions
        )
        reading = (space, delta, source_schema, table, dropped_before, scope, hashed)
        with timer("state"):
            schema_plan, state = _plan_and_state(*reading)
        widened = [w.describe() for w in schema_plan.widened]
        if schema_plan.widened:
            delta = widen_columns(job, table, delta, schema_plan, lease, timer)
            schema_plan, state = _plan_and_state(space, delta, *reading[2:])
        read_schema = schema_plan.read_schema(source_schema.names)
        if scope.values is not None:
            extraction = extract_partitions(job, table, staging, read_schema, scope.values, timer)
        else:
            since = None if scope.full_read else _since(table, state)
            checksum = full_reason or checksum_scan(
                job, table, read_schema, staging, lambda: space.active_hashes(state), timer
            )
            extraction = extract(
                job,
                table,
                staging,
                read_schema,
                since,
                state_row,
                timer,
                space.partitioned,
                checksum,
                tried.rows if tried.since is not None and tried.since == since else None,
            )
        fill = read_fill(job, table, staging, schema_plan, extraction, timer)
        # `is not None`: an empty key set (the source, or a reloaded value, lost every row)
        # is a complete scan, and a pyarrow table with no rows is falsy.
        keys = extraction.source_keys
        source_rows = extraction.scan.source_rows if extraction.scan else None
        if source_rows is None and keys is not None:
            source_rows = keys.num_rows
        with timer("keys"):
            kept = space.keep_keys(extraction.source_keys, table.name)
        extraction = dataclasses.replace(extraction, source_keys=kept)
        retained = retained_keys(delta, table, extraction.rows)
        # Without a fill read, re-read rows are the only way new columns get their values.
        unfilled = bool(schema_plan.fill_columns) and fill is None
        window = window_since(table, state, extraction) if hashed and not scope.values else None
        with timer("diff"):
            plan = _plan(
                job, table, space, state_row, state, extraction, retained, unfilled, scope, window
            )
            if table.kind == SCD2:
                plan = _with_latest_flips(plan, delta, table, state, extraction, space)
        guard_mass_delete(job, table, plan)
        result = _planned_result(table, state, plan, extraction, schema_plan, source_rows, space)
        result.keys_compared = keys.num_rows if keys is not None else None
        result.columns_widened = widened
        result.partition_values = scope.partition_values
        result.fingerprint = scope.fingerprint
        spool = ChangeSpool(staging.dir, table.primary_key)
        outcome = _commit(
            job, table, delta, state, plan, schema_plan, fill, result, lease, timer, spool
        )
        with timer("history"):
            latest = job.store.open(job.store.table_uri(table.name))
            version = latest.version() if latest is not None else outcome.version
            spooled = spool if outcome.committed and version == outcome.version else None
            result.note_history(*keep_history(job, table, version, spooled))
        with timer("validate"):
            after = job.store.open(job.store.table_uri(table.name), outcome.version) or delta
            # Nothing committed: the state read holds every row's flags of this very version.
            whole = scope.state is None and outcome.version == state.version
            counts = space.flag_counts(state) if whole else count_flags(after)
            if scope.values is not None:
                result.scope_active = count_flags(after, scope.state)["active"]
        result.key_state = key_state_after(delta, table, state, plan, outcome, counts, window)
    result.version, result.committed = outcome.version, outcome.committed
    result.updated, result.undeleted = outcome.updated, outcome.undeleted
    result.filled = outcome.filled
    result.files_rewritten, result.files_total = outcome.files_rewritten, len(delta.file_uris())
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
    scope: KindScope,
    key_hash: bool,
) -> tuple[SchemaPlan, BronzeState]:
    state = space.read_state(delta, table, scope.state, key_hash)
    plan = plan_schema(
        source_schema,
        state.schema,
        table.name,
        dropped_before,
        metadata_fields(table.metadata_columns),
    )
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
    scope: KindScope,
    window_since_us: int | None,
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
        last_purge=_instant(state_row, "LastPurgeDate"),
        purge_recorded=_instant(state_row, "LastPurgeRecorded"),
        purge_window_days=table.purge_window_days,
        # An scd2 source clears IsLatest on an old version without touching its modified time.
        trust_modified=job.source.modified_marks_every_change
        and not extraction.from_change_feed
        and not unfilled
        and table.kind != SCD2,
        skip_older=table.skip_older_rows,
        loaded_from=(table.modified_column, scope.loaded_from)
        if scope.loaded_from and table.modified_column
        else None,
        now=job.clock(),
        fetch_source=lambda k: _fetch(job, table, read_schema, k),
        scanned=extraction.scan.scanned if extraction.scan else None,
        window_since_us=window_since_us,
    )
    return space.plan(inp)


def _with_latest_flips(
    plan: SyncPlan,
    delta: DeltaTable,
    table: TableConfig,
    state: BronzeState,
    extraction: Extraction,
    space: DiffSpace,
) -> SyncPlan:
    """Add to the plan the older versions whose latest flag the arriving versions clear."""
    rows = state.rows if not space.partitioned else scd2.latest_state(delta, table)
    arriving = scd2.arriving_versions(extraction.rows, plan.edits.inserts, table)
    flips = scd2.latest_flips(rows, arriving, table)
    edits = dataclasses.replace(plan.edits, unlatest=flips, latest_column=table.latest_column)
    counts = {**plan.counts, "latest_cleared": flips.num_rows}
    return dataclasses.replace(plan, edits=edits, counts=counts)


def _fetch(job: SyncJob, table: TableConfig, schema: pa.Schema, keys: pa.Table) -> pa.Table:
    batches = list(job.source.read_rows_by_keys(table, schema, keys))
    return pa.Table.from_batches(batches, schema=schema)


def guard_mass_delete(job: SyncJob, table: TableConfig, plan: SyncPlan) -> None:
    """Refuse a sync that would flag more than max_delete_fraction of the active rows."""
    check_mass_delete(job, table, plan.count("deleted"), plan.active_before, plan.count("purged"))


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
    path = extraction.scan.path if extraction.scan else None
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
        latest_cleared=plan.count("latest_cleared"),
        extracted_rows=extraction.rows.num_rows,
        source_rows=source_rows - plan.count("vanished_during_sync") - plan.count("not_loaded")
        if source_rows is not None
        else None,
        full_key_scan=source_rows is not None
        and extraction.mode != "partitions"
        and path != CHECKSUM,
        key_path=path,
        key_path_reason=extraction.scan.reason if extraction.scan else None,
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
    spool: ChangeSpool,
) -> RewriteResult:
    edits = plan.edits
    change = None
    if schema_plan.rewrites_table:
        change = TableChange(schema_plan.table_schema(), fill, schema_plan.fill_columns)
    unlatest = edits.unlatest.num_rows if edits.unlatest is not None else 0
    if change is None and not (
        edits.upserts.num_rows or edits.flags.num_rows or edits.inserts.num_rows or unlatest
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
    metadata[PII_POLICY_FIELD] = policy_text(table.pii)

    now = job.clock()
    stamp = row_stamp(job, table, now, delta if schema_plan.missing_metadata else None)
    with timer("commit"):
        outcome = rewrite_commit(
            delta,
            edits,
            table.primary_key,
            now,
            metadata,
            token=lease.token,
            change=change,
            before_commit=lease.before_commit,
            changes=spool,
            stamp=stamp,
        )
    if outcome.committed:
        fault_point("after_commit")
    else:
        job.progress(table.name, "commit", "candidates were unchanged; nothing to commit")
    return outcome


def _instant(state_row: dict[str, object], column: str) -> dt.datetime | None:
    """Return a timestamp of the table's PipelineConfig row (None when unset)."""
    value = state_row.get(column)
    if value is None or isinstance(value, dt.datetime):
        return value
    raise TypeError(f"PipelineConfig.{column} holds a {type(value).__name__}, not a timestamp")
