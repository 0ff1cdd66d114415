"""First sync of a spark-engine table: source rows staged in the lake, written on the cluster."""

# ruff: noqa: S608  # identifiers are validated by the config and quoted by statements.q

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pyarrow as pa

from bronze_sync.bronze.properties import retention_properties
from bronze_sync.bronze.tracking import (
    DELETED_DATE,
    IS_DELETED,
    IS_PURGED,
    LAST_SYNCED,
    PURGED_DATE,
    SYNC_OPERATION,
    SyncOp,
)
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import BronzeError, CommitConflictError
from bronze_sync.faults import fault_point
from bronze_sync.pii.source import PII_POLICY_FIELD, policy_text
from bronze_sync.sync.job import PhaseTimer, SyncJob
from bronze_sync.sync.result import SyncResult
from bronze_sync.sync.row_stamp import row_stamp
from bronze_sync.sync.spark import statements as st
from bronze_sync.sync.spark.checks import (
    check_protocol,
    flag_counts,
    refuse_repeats,
    require_delta,
)
from bronze_sync.sync.spark.lake_staging import LakeStaging
from bronze_sync.sync.spark.session import cluster_errors, spark_session
from bronze_sync.sync.spark.stamp import SparkStamp, initial_columns, spark_stamp, stage_rows
from bronze_sync.sync.spark.tally import check_null_keys


def spark_initial_load(
    job: SyncJob, table: TableConfig, read_schema: pa.Schema, timer: PhaseTimer, lease_token: str
) -> SyncResult:
    """Create bronze table `table` from every source row, written by the table's cluster."""
    assert table.spark is not None  # the configuration refuses engine spark without it
    started = time.perf_counter()
    staging = LakeStaging(job.store, table.name, job.run.run_id)
    staging.remove_stale()
    try:
        with (
            spark_session(table.spark, table.name) as spark,
            cluster_errors(table.spark, table.name, "create the table"),
        ):
            result = _load(job, table, read_schema, timer, lease_token, spark, staging)
    finally:
        staging.remove()
    result.seconds = time.perf_counter() - started
    result.phases = dict(timer.seconds)
    return result


def _load(
    job: SyncJob,
    table: TableConfig,
    schema: pa.Schema,
    timer: PhaseTimer,
    lease_token: str,
    spark: Any,
    staging: LakeStaging,
) -> SyncResult:
    keys, uri = list(table.primary_key), job.store.table_uri(table.name)
    now = job.clock()
    stamp = spark_stamp(row_stamp(job, table, now))
    require_delta(spark, uri)  # before every source row travels to the lake for nothing
    with timer("extract"):
        job.progress(table.name, "extract", "staging every source row in the lake")
        source = job.source.read_rows(table, schema, None)
        rows = stage_rows(staging, "rows", source, schema, stamp)
        spark.read.parquet(staging.location("rows")).createOrReplaceTempView("rows")
        check_null_keys(spark, "rows", keys, table.name, "source")
        refuse_repeats(spark, "rows", keys, table.name, "source")
    fault_point("after_extract")
    metadata = {
        **job.commit_identity(),
        "mode": "initial",
        "lease": lease_token,
        "engine": "spark",
        PII_POLICY_FIELD: policy_text(table.pii),
    }
    with timer("commit"):
        select = _initial_rows(schema.names, keys[0], table.created_column, now, stamp)
        frame = spark.sql(select)
        writer = frame.write.format("delta").mode("error")
        writer = writer.option("userMetadata", json.dumps(_prefixed(metadata), default=str))
        for name, value in retention_properties(table).items():
            writer = writer.option(name, value)
        job.store.ensure_root()
        try:
            writer.save(uri)
        except Exception as exc:
            if "already exists" in str(exc):
                raise CommitConflictError(f"another writer created {uri} first") from None
            raise
    fault_point("after_commit")
    delta = job.store.open(uri)
    if delta is None:
        raise BronzeError(f"the cluster wrote {uri} but it cannot be opened", table=table.name)
    check_protocol(delta, table)
    counts = flag_counts(spark, uri, delta.version())
    return SyncResult(
        table=table.name,
        mode="initial",
        version=delta.version(),
        committed=True,
        inserted=counts["total"],
        extracted_rows=rows,
        source_rows=counts["total"],
        full_key_scan=True,
        counts=counts,
        engine="spark",
    )


def _initial_rows(
    data: list[str],
    first_key: str,
    created: str | None,
    now: dt.datetime,
    stamp: SparkStamp | None,
) -> str:
    """Return every staged row with live tracking (and metadata) columns, in created order."""
    # IF(key IS NULL, ...) keeps the tracking columns nullable, as native tables have them.
    live = f"IF({st.q(first_key)} IS NULL, NULL, "
    tracking = [
        f"{live}false) AS {IS_DELETED}",
        f"{live}false) AS {IS_PURGED}",
        f"CAST(NULL AS TIMESTAMP) AS {DELETED_DATE}",
        f"CAST(NULL AS TIMESTAMP) AS {PURGED_DATE}",
        f"{live}{st.ts(now)}) AS {LAST_SYNCED}",
        f"{live}'{SyncOp.INSERT.value}') AS {SYNC_OPERATION}",
        *initial_columns(stamp, st.ts(now), live),
    ]
    order = f" ORDER BY {st.q(created)}" if created and created in data else ""
    columns = ", ".join([*(st.q(c) for c in data), *tracking])
    return f"SELECT {columns} FROM rows{order}"


def _prefixed(metadata: dict[str, Any]) -> dict[str, Any]:
    return {f"bronze_sync.{k}": v for k, v in metadata.items()}
