"""Sync an existing bronze table on a Spark cluster: the same plan, one MERGE commit.

The Python step stays a thin client: it streams the changed rows and the source's keys into
the lake as Parquet, and the cluster does the rest (the diff, the purge-aware classification,
the mass-delete guard's counts and the one MERGE). Nothing here reads bronze's rows.
"""

# ruff: noqa: S608  # identifiers are validated by the config and quoted by statements.q

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from bronze_sync.bronze import commit_notes
from bronze_sync.bronze.lease import TableLease
from bronze_sync.bronze.schema import SchemaPlan
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import CommitConflictError, SparkEngineError
from bronze_sync.faults import fault_point
from bronze_sync.pii.source import PII_POLICY_FIELD, policy_text
from bronze_sync.sources.base import ChangeFeed
from bronze_sync.sync.changes import RETAINED_COLUMN, read_feed, saved_token
from bronze_sync.sync.history_step import keep_history
from bronze_sync.sync.job import PhaseTimer, SyncJob
from bronze_sync.sync.key_check import FULL
from bronze_sync.sync.mass_delete import check_mass_delete
from bronze_sync.sync.result import SyncResult
from bronze_sync.sync.row_stamp import row_stamp
from bronze_sync.sync.spark import statements as st
from bronze_sync.sync.spark.checks import check_protocol, flag_counts, refuse_repeats
from bronze_sync.sync.spark.evolve import Evolution, evolution, fill_bronze, filled_count
from bronze_sync.sync.spark.lake_staging import LakeStaging
from bronze_sync.sync.spark.session import cluster_errors, spark_session
from bronze_sync.sync.spark.stamp import spark_stamp, stage_rows
from bronze_sync.sync.spark.tally import SparkTally, check_null_keys, tally

USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
MERGE = "MERGE"


def sync_with_spark(
    job: SyncJob,
    table: TableConfig,
    delta: DeltaTable,
    schema_plan: SchemaPlan,
    source_names: list[str],
    timer: PhaseTimer,
    lease: TableLease,
    state_row: dict[str, object],
) -> SyncResult:
    """Bring bronze table `table` in step with the source on its Spark cluster."""
    assert table.spark is not None  # the configuration refuses engine spark without it
    started = time.perf_counter()
    read_schema = schema_plan.read_schema(source_names)
    staging = LakeStaging(job.store, table.name, job.run.run_id)
    stale = staging.remove_stale()
    if stale:
        job.progress(table.name, "extract", f"removed staging left by crashed run(s) {stale}")
    try:
        with (
            spark_session(table.spark, table.name) as spark,
            cluster_errors(table.spark, table.name, "run the sync"),
        ):
            evolving = evolution(table, schema_plan)
            result = _sync(
                job, table, delta, read_schema, timer, lease, state_row, spark, staging, evolving
            )
    finally:
        staging.remove()
    # Saved as the table's DroppedColumns: left out, a column coming back would keep the
    # values bronze froze when it left, instead of being read afresh (SchemaPlan.readded).
    result.columns_dropped = list(schema_plan.dropped)
    result.seconds = time.perf_counter() - started
    result.phases = dict(timer.seconds)
    return result


def _sync(
    job: SyncJob,
    table: TableConfig,
    delta: DeltaTable,
    schema: pa.Schema,
    timer: PhaseTimer,
    lease: TableLease,
    state_row: dict[str, object],
    spark: Any,
    staging: LakeStaging,
    evolving: Evolution | None,
) -> SyncResult:
    version, uri = delta.version(), job.store.table_uri(table.name)
    keys = list(table.primary_key)
    sql = _statements(job, table, schema, delta)
    with timer("state"):
        stored = spark.read.format("delta").option("versionAsOf", version).load(uri)
        stored.createOrReplaceTempView("bronze_stored")
        stored.createOrReplaceTempView("bronze")
        since = _since(spark, table)
    feed = _change_feed(job, table, schema, since, state_row)
    if feed is not None:  # as natively: a change feed's rows are compared value by value
        sql = dataclasses.replace(sql, trust_modified=False)
    if feed is not None and feed.full:
        since = None  # the feed read every current row: compare every key with them
    with timer("extract"):
        batches = feed.rows if feed is not None else job.source.read_rows(table, schema, since)
        extracted = stage_rows(staging, "rows", batches, schema, sql.stamp)
        rows = spark.read.parquet(staging.location("rows"))
        rows.createOrReplaceTempView("rows")
        check_null_keys(spark, "rows", keys, table.name, "extracted rows")
        refuse_repeats(spark, "rows", keys, table.name, "extracted rows")
    changes_only = feed is not None and not feed.full
    if changes_only:
        assert feed is not None
        _stage_removed(table, schema, spark, staging, feed.deleted_keys)
        source_rows = None  # no key scan ran
    else:
        source_rows = _stage_keys(job, table, schema, since, spark, staging, timer, extracted)
    if evolving is not None:
        sql = fill_bronze(job, table, schema, evolving, spark, staging, since, timer, sql)
    scanned = table.track_deletes and not changes_only
    with timer("diff"):
        _fetch(job, table, schema, spark, staging, sql, scanned)
        spark.sql(sql.candidates(scanned)).createOrReplaceTempView("candidates")
        purge_before = _purge_date(job, table, state_row)
        if table.track_deletes:
            vanished = sql.vanished(purge_before, "removed" if changes_only else None)
            spark.sql(vanished).createOrReplaceTempView("vanished")
        counts = tally(spark, table.track_deletes)
    check_mass_delete(job, table, counts.deleted, counts.active_before, counts.purged)
    result = _result(table, version, since, extracted, source_rows, counts)
    if evolving is not None:
        result.filled = filled_count(spark)
        result.columns_added, result.columns_readded = list(evolving.added), list(evolving.readded)
    if feed is not None:  # read after staging: a full feed learns its position at the end
        result.mode = "changes" if changes_only else "full"
        result.source_state = dict(feed.state)
    if counts.written or evolving is not None:  # new columns change bronze even unfilled
        with timer("commit"):
            _commit(job, table, uri, version, sql, spark, lease, result, evolving)
    with timer("history"):
        result.note_history(*keep_history(job, table, result.version))
    with timer("validate"):
        result.counts = flag_counts(spark, uri, result.version)
    return result


def _statements(
    job: SyncJob, table: TableConfig, schema: pa.Schema, delta: DeltaTable
) -> st.SyncSql:
    bronze_columns = pa.schema(delta.schema().to_arrow()).names
    return st.SyncSql(
        retained=RETAINED_COLUMN if RETAINED_COLUMN in bronze_columns else None,
        stamp=spark_stamp(row_stamp(job, table, job.clock())),
        keys=tuple(table.primary_key),
        data=tuple(schema.names),
        modified=table.modified_column if table.modified_column in schema.names else None,
        created=table.created_column,
        trust_modified=job.source.modified_marks_every_change,
        skip_older=table.skip_older_rows,
        track_deletes=table.track_deletes,
    )


def _since(spark: Any, table: TableConfig) -> dt.datetime | None:
    """Return where incremental extraction starts: bronze's newest modified value less overlap."""
    if not table.modified_column:
        return None
    top = spark.sql(f"SELECT max({st.q(table.modified_column)}) AS top FROM bronze").collect()[0][0]
    if top is None:
        return None
    if not isinstance(top, dt.datetime):  # a date column
        top = dt.datetime.combine(top, dt.time())
    top = top.replace(tzinfo=dt.UTC) if top.tzinfo is None else top.astimezone(dt.UTC)
    return top - dt.timedelta(minutes=table.watermark_overlap_minutes)


def _stage_keys(
    job: SyncJob,
    table: TableConfig,
    schema: pa.Schema,
    since: dt.datetime | None,
    spark: Any,
    staging: LakeStaging,
    timer: PhaseTimer,
    extracted: int,
) -> int | None:
    """Stage every current source key (view `source_keys`); return how many there are."""
    keys = list(table.primary_key)
    if not table.track_deletes:
        return None
    if since is None:  # a full read: the extracted rows are every key
        spark.sql(f"SELECT {', '.join(st.q(k) for k in keys)} FROM rows").createOrReplaceTempView(
            "source_keys"
        )
        return extracted
    key_schema = pa.schema([schema.field(k) for k in keys])
    job.progress(table.name, "keys", "scanning the source's current keys")
    with timer("keys"):
        found = staging.stage("keys", job.source.read_keys(table, schema), key_schema)
        spark.read.parquet(staging.location("keys")).createOrReplaceTempView("source_keys")
        check_null_keys(spark, "source_keys", keys, table.name, "source key scan")
        refuse_repeats(spark, "source_keys", keys, table.name, "source key scan")
    return found


def _change_feed(
    job: SyncJob,
    table: TableConfig,
    schema: pa.Schema,
    since: dt.datetime | None,
    state_row: dict[str, object],
) -> ChangeFeed | None:
    """Return the source's changes since the saved token (None: extract and scan keys)."""
    feed = read_feed(job, table, schema, since, saved_token(state_row))
    if feed is None:
        job.progress(table.name, "extract", f"extracting rows changed since {since or 'ever'}")
    return feed


def _stage_removed(
    table: TableConfig, schema: pa.Schema, spark: Any, staging: LakeStaging, removed: pa.Table
) -> None:
    """Stage the keys a change feed reported deleted (view `removed`); no key scan runs."""
    if not table.track_deletes:
        return
    key_schema = pa.schema([schema.field(k) for k in table.primary_key])
    staging.stage("removed", iter(removed.cast(key_schema).to_batches()), key_schema)
    spark.read.parquet(staging.location("removed")).createOrReplaceTempView("removed")


def _fetch(
    job: SyncJob,
    table: TableConfig,
    schema: pa.Schema,
    spark: Any,
    staging: LakeStaging,
    sql: st.SyncSql,
    scanned: bool,
) -> None:
    """Read back by key the late inserts and the flagged rows the source holds again."""
    wanted = None
    if scanned:  # a change feed reports late and returning rows itself
        wanted = spark.sql(sql.to_fetch()).toArrow()
    if wanted is not None and wanted.num_rows:
        job.progress(table.name, "diff", f"reading {wanted.num_rows:,} rows back by key")
        batches = job.source.read_rows_by_keys(table, schema, wanted)
        stage_rows(staging, "fetched", batches, schema, sql.stamp)
        spark.read.parquet(staging.location("fetched")).createOrReplaceTempView("fetched")
    else:
        spark.sql("SELECT * FROM rows WHERE false").createOrReplaceTempView("fetched")


def _purge_date(
    job: SyncJob, table: TableConfig, state_row: dict[str, object]
) -> dt.datetime | None:
    """Return the purge date that classifies vanished rows as PURGE (None: none applies)."""
    from bronze_sync.diff.classify import purge_window_open

    last = state_row.get("LastPurgeDate")
    recorded = state_row.get("LastPurgeRecorded")
    if not isinstance(last, dt.datetime):
        return None
    opened = purge_window_open(
        recorded if isinstance(recorded, dt.datetime) else None,
        table.purge_window_days,
        job.clock(),
    )
    return last if opened else None


def _result(
    table: TableConfig,
    version: int,
    since: dt.datetime | None,
    extracted: int,
    source_rows: int | None,
    counts: SparkTally,
) -> SyncResult:
    return SyncResult(
        table=table.name,
        mode="full" if since is None else "incremental",
        version=version,
        committed=False,
        inserted=counts.inserted,
        updated=counts.updated,
        deleted=counts.deleted,
        purged=counts.purged,
        undeleted=counts.undeleted,
        unchanged=counts.unchanged + counts.unmodified,
        late_inserts=counts.late_inserts,
        unmodified=counts.unmodified,
        stale_skipped=counts.stale,
        extracted_rows=extracted,
        source_rows=source_rows,
        full_key_scan=source_rows is not None,
        key_path=FULL if source_rows is not None else None,
        key_path_reason="the spark engine compares every key on the cluster"
        if source_rows is not None
        else None,
        keys_compared=source_rows,
        since=since,
    )


def _commit(
    job: SyncJob,
    table: TableConfig,
    uri: str,
    version: int,
    sql: st.SyncSql,
    spark: Any,
    lease: TableLease,
    result: SyncResult,
    evolving: Evolution | None,
) -> None:
    """Write the edits in ONE MERGE pinned to `version`; fill `result` with what landed."""
    job.progress(
        table.name, "commit", f"merging {result.changed_rows:,} row changes on the cluster"
    )
    now = job.clock()
    if evolving is not None:
        edits = evolving.images(sql.data, st.ts(now), table.track_deletes)
        statement = evolving.merge(uri)
    else:
        edits, statement = sql.edits(table.track_deletes), sql.merge(uri, now)
    spark.sql(edits).createOrReplaceTempView("edits")
    metadata = {
        **job.commit_identity(),
        **result.commit_metadata(),
        "lease": lease.token,
        "engine": "spark",
        # What native's rewrite adds after comparing values; the cluster compared them first.
        "updated": result.updated,
        "undeleted": result.undeleted,
        "unchanged": result.unchanged - result.unmodified,
        "filled": result.filled,
        PII_POLICY_FIELD: policy_text(table.pii),
    }
    lease.before_commit()
    latest = job.store.open(uri)
    if latest is None or latest.version() != version:
        raise CommitConflictError("the table changed since it was read", table=table.name)
    options = job.store.options()
    # The note first: a crash after the MERGE still leaves its commit attributable.
    commit_notes.write_note(uri, options, version + 1, MERGE, metadata)
    spark.conf.set(
        USER_METADATA, json.dumps({f"bronze_sync.{k}": v for k, v in metadata.items()}, default=str)
    )
    try:
        spark.sql(statement).collect()
    except Exception:
        landed = job.store.open(uri)
        if landed is None or landed.version() == version:
            commit_notes.remove_note(uri, options, version + 1)
        raise
    fault_point("after_commit")
    landed = job.store.open(uri)
    if landed is None or landed.version() != version + 1:
        raise SparkEngineError(
            f"the MERGE left the table at version {landed.version() if landed else '?'}, "
            f"not {version + 1}: another writer committed; recovery will audit it",
            table=table.name,
        )
    check_protocol(landed, table)
    result.version, result.committed = version + 1, True
