"""dlt's best equivalent: sql_database source, incremental cursor, merge (upsert) into Delta.

dlt's Delta filesystem destination offers the merge strategies upsert, insert-only and cdc.
With an incremental cursor it never sees hard deletes; `scd2` and `delete-insert` (which
could retire rows missing from a full snapshot) are refused for Delta tables; `cdc` and the
`hard_delete` hint need a change feed the user computes, and then delete the rows rather
than flag them. So the daily phase measures changed rows only, no delete detection.
"""

from __future__ import annotations

from typing import Any

from bronze_sync.bench.worker import PhaseRequest


def run_phase(request: PhaseRequest) -> dict[str, Any]:
    """Run the dlt pipeline once."""
    import dlt
    from dlt.sources.sql_database import sql_table

    schema, table = request.source.split(".")
    source = sql_table(
        credentials=request.pg_url,
        schema=schema,
        table=table,
        backend="pyarrow",
        chunk_size=50_000,
        incremental=dlt.sources.incremental("modified_at"),
    )
    pipeline = dlt.pipeline(
        pipeline_name="bronze_sync_bench",
        destination=dlt.destinations.filesystem(bucket_url=f"{request.workdir}/delta"),
        dataset_name="bench",
        pipelines_dir=f"{request.workdir}/pipelines",
    )
    info = pipeline.run(
        source,
        table_format="delta",
        write_disposition={"disposition": "merge", "strategy": "upsert"},
        primary_key="id",
    )
    return {"loads": len(info.loads_ids), "deletes_detected": False}
