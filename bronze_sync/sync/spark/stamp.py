"""Row metadata columns on the cluster: the same stamp native writes (bronze.row_metadata).

`record_hash` is SHA-256 over a canonical text no Spark SQL function reproduces, so the
Dagster step hashes each row it stages (it streams every written row anyway) and the cluster
carries the hash into the MERGE. A flagged row keeps its stored hash: its values did not
change, and every writer keeps the hash equal to the hash of the row's values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from bronze_sync.bronze.row_metadata import (
    BATCH_ID,
    LOAD_TIMESTAMP,
    RECORD_HASH,
    SOURCE_SYSTEM,
    UPDATE_TIMESTAMP,
    RowStamp,
    hashed_columns,
)
from bronze_sync.rows.record_hash import record_hashes
from bronze_sync.sync.spark.lake_staging import LakeStaging

# The staged column carrying each row's record_hash to the cluster.
HASH = "_bronze_sync_record_hash"


def literal(value: str) -> str:
    """Return a Spark SQL string literal of `value`."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class SparkStamp:
    """What a spark sync writes into the table's metadata columns."""

    stamp: RowStamp

    @property
    def names(self) -> tuple[str, ...]:
        """Return the metadata columns, in bronze's canonical order."""
        return self.stamp.names

    @property
    def hashes(self) -> bool:
        """Return True when rows carry a record_hash the step computes."""
        return RECORD_HASH in self.stamp.names

    def staged_schema(self, schema: pa.Schema) -> pa.Schema:
        """Return the schema of hashed staged rows: the read schema, plus the hash."""
        return schema.append(pa.field(HASH, pa.string()))

    def hashed(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Yield `batches` with each row's record_hash appended."""
        for batch in batches:
            rows = pa.Table.from_batches([batch])
            columns = hashed_columns(rows.column_names, (*self.names, *self.stamp.unhashed))
            hashes = record_hashes(rows, columns)
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, hashes], schema=self.staged_schema(batch.schema)
            )

    def values(self, when: str, hash_expr: str) -> dict[str, str]:
        """Return each metadata column's value for a row written at `when` (SQL)."""
        every = {
            LOAD_TIMESTAMP: when,
            UPDATE_TIMESTAMP: when,
            SOURCE_SYSTEM: literal(self.stamp.source_system),
            BATCH_ID: literal(self.stamp.batch_id),
            RECORD_HASH: hash_expr,
        }
        return {name: every[name] for name in self.names}

    def updates(self, target: str, when: str, hash_expr: str | None) -> list[str]:
        """Return the SET clauses of a changed row (load time kept; hash kept when None)."""
        values = self.values(when, hash_expr or f"{target}.{RECORD_HASH}")
        values = {
            name: f"coalesce({target}.{name}, {when})" if name == LOAD_TIMESTAMP else value
            for name, value in values.items()
        }
        return [f"{target}.{name} = {value}" for name, value in values.items()]


def spark_stamp(stamp: RowStamp | None) -> SparkStamp | None:
    """Return the cluster-side stamp of `stamp` (None: the table keeps no metadata columns)."""
    return SparkStamp(stamp) if stamp is not None else None


def stage_rows(
    staging: LakeStaging,
    name: str,
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    stamp: SparkStamp | None,
) -> int:
    """Stage source rows as set `name`, each with its record_hash when the table keeps it."""
    if stamp is None or not stamp.hashes:
        return staging.stage(name, batches, schema)
    return staging.stage(name, stamp.hashed(batches), stamp.staged_schema(schema))


def initial_columns(stamp: SparkStamp | None, when: str, live: str) -> list[str]:
    """Return the metadata columns of an initial load's SELECT, nullable like native's."""
    if stamp is None:
        return []
    return [f"{live}{value}) AS {name}" for name, value in stamp.values(when, HASH).items()]
