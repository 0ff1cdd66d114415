"""Static reference tables (kind static): read only when the source's content changed.

The fingerprint is the row count plus a content hash the database computes (PostgreSQL,
SQL Server), else a hash of a full read. It is kept in PipelineConfig with the bronze
version it produced: the same fingerprint at the same bronze version means nothing to read,
no commit, an audit row `Skipped`; a rolled-back (changed) bronze table is read again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from bronze_sync.config.models import TableConfig
from bronze_sync.sources.base import Source

FINGERPRINT = "SourceFingerprint"
FINGERPRINT_VERSION = "FingerprintVersion"


def source_fingerprint(source: Source, table: TableConfig, schema: pa.Schema) -> str:
    """Return the table's fingerprint: from the database when it can, else from a full read."""
    computed = source.fingerprint(table, schema)
    if computed is not None:
        return computed
    return rows_fingerprint(source.read_rows(table, schema, None), table.primary_key)


def rows_fingerprint(batches: Iterable[pa.RecordBatch], key_columns: list[str]) -> str:
    """Return "rows:<count>:<sha256>" of rows sorted by key (independent of read order)."""
    tables = [pa.Table.from_batches([b]) for b in batches if b.num_rows]
    if not tables:
        return "rows:0:"
    rows = pa.concat_tables(tables).sort_by([(k, "ascending") for k in key_columns])
    rows = rows.combine_chunks()  # the same rows give the same batches, whatever the reads
    plain = pa.schema([pa.field(f.name, f.type) for f in rows.schema])  # no field metadata
    rows = rows.cast(plain)
    digest = hashlib.sha256()
    for batch in rows.to_batches(max_chunksize=65_536):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        digest.update(sink.getvalue().to_pybytes())
    return f"rows:{rows.num_rows}:{digest.hexdigest()}"


def unchanged_since(state: Mapping[str, Any], fingerprint: str, version: int) -> bool:
    """Return True when bronze version `version` was made from this very fingerprint."""
    return state.get(FINGERPRINT) == fingerprint and state.get(FINGERPRINT_VERSION) == version


def upsert_only(table: TableConfig) -> TableConfig:
    """Return the table as synced: `upsert` mode never flags vanished rows."""
    if table.static_mode == "upsert" and table.track_deletes:
        return table.model_copy(update={"track_deletes": False})
    return table
