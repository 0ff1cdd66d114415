"""The original Fabric notebook approach, done locally with deltalake.

Every run: copy the whole source table into staging, MERGE every staged row into bronze
(update all matched, insert the rest), then flag deleted rows by comparing bronze with ALL
source keys (the notebook's `NOT IN (SELECT id FROM temp_ids)`; in Delta, a MERGE's
`when not matched by source`). The copy uses bronze_sync's own columnar reader, as fast as
Fabric's Copy Activity, so the comparison isolates the merge strategy.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake

from bronze_sync.bench.worker import PhaseRequest
from bronze_sync.bronze.tracking import SyncOp, live_rows
from bronze_sync.config import SqlSourceConfig, TableConfig
from bronze_sync.sources.sql import SqlSource


def run_phase(request: PhaseRequest) -> dict[str, Any]:
    """Copy everything, merge everything, detect deletes with NOT IN over all keys."""
    now = dt.datetime.now(dt.UTC)
    uri, staging = f"{request.workdir}/bronze", f"{request.workdir}/staging.parquet"
    table = TableConfig(name="bench", source=request.source, primary_key=["id"])
    with SqlSource(SqlSourceConfig(kind="sql", url=request.pg_url)) as source:
        schema = pa.schema([pa.field(f.name, f.type) for f in source.describe(table)])
        with pq.ParquetWriter(staging, schema) as writer:  # Copy Activity → staging table
            for batch in source.read_rows(table, schema, None):
                writer.write_batch(batch)
    staged = live_rows(pq.read_table(staging), SyncOp.UPDATE, now)
    if not DeltaTable.is_deltatable(uri):
        write_deltalake(uri, staged)
        return {"merged": staged.num_rows}
    (
        DeltaTable(uri)
        .merge(staged, 't."id" = s."id"', source_alias="s", target_alias="t")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    metrics = (
        DeltaTable(uri)
        .merge(staged.select(["id"]), 't."id" = s."id"', source_alias="s", target_alias="t")
        .when_not_matched_by_source_update(
            updates={"IsDeleted": "true", "SyncOperation": "'DELETE'"},
            predicate='t."IsDeleted" = false',
        )
        .execute()
    )
    return {"merged": staged.num_rows, "flagged": metrics.get("num_target_rows_updated", 0)}
