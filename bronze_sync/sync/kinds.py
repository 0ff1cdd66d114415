"""How a table's kind shapes one sync: what the first sync reads, what later syncs cover."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from bronze_sync.bronze.reader import StateScope
from bronze_sync.config.kinds import PARTITIONED, SCD2, STATIC
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import SourceSchemaError
from bronze_sync.sync import partitioned, scd2, static
from bronze_sync.sync.initial import InitialRead
from bronze_sync.sync.job import SyncJob


@dataclass(frozen=True)
class KindScope:
    """What one sync of a table covers, as its kind decides."""

    state: StateScope | None = None  # which bronze files and extra columns to read
    values: tuple[Any, ...] | None = None  # partitioned: the partition values synced
    full_read: bool = False  # static: every source row is read (no watermark)
    loaded_from: dt.datetime | None = None  # scd2: older versions were never loaded
    fingerprint: str | None = None  # static: the source content this sync reads
    skip_reason: str | None = None  # nothing to do: no read, no commit

    @property
    def partition_values(self) -> list[str] | None:
        """Return the synced partition values as text (None for other kinds)."""
        return None if self.values is None else [partitioned.value_key(v) for v in self.values]


def initial_read(job: SyncJob, table: TableConfig, schema: pa.Schema) -> InitialRead:
    """Return what the first sync of `table` reads and how its bronze table is laid out."""
    source = job.source
    if table.kind == PARTITIONED:
        partitioned.check_partition_field(table, schema)
        chosen = job.partition_values  # a backfill before the first sync loads exactly those
        values = list(chosen) if chosen is not None else partitioned.new_values(source, table, None)
        return InitialRead(
            lambda: source.read_partitions(table, schema, values),
            partition_by=(table.partition_column or "",),
            metadata={"partition_values": [partitioned.value_key(v) for v in values]},
        )
    if table.kind == SCD2:
        since = scd2.initial_since(table, job.clock())
        return InitialRead(
            lambda: source.read_versions(table, schema, since),
            metadata={"loaded_from": since.isoformat()},
        )
    if table.kind == STATIC:
        fingerprint = static.source_fingerprint(source, table, schema)
        return InitialRead(
            lambda: source.read_rows(table, schema, None), metadata={"fingerprint": fingerprint}
        )
    return InitialRead(lambda: source.read_rows(table, schema, None))


def sync_scope(
    job: SyncJob,
    table: TableConfig,
    delta: DeltaTable,
    source_schema: pa.Schema,
    state: Mapping[str, Any],
) -> KindScope:
    """Return what this sync of an existing bronze table covers, or why it has nothing to do."""
    if table.kind == PARTITIONED:
        partitioned.check_partition_field(table, source_schema)
        values = job.partition_values
        if values is None:
            values = tuple(partitioned.new_values(job.source, table, delta))
        scope = StateScope(table.partition_column, frozenset(values))
        if not values:
            reason = "no new partition values in the source"
            return KindScope(state=scope, values=(), skip_reason=reason)
        return KindScope(state=scope, values=tuple(values))
    if table.kind == SCD2:
        return KindScope(state=scd2.state_scope(table), loaded_from=scd2.loaded_from(delta, state))
    if table.kind == STATIC:
        fingerprint = static.source_fingerprint(job.source, table, source_schema)
        if static.unchanged_since(state, fingerprint, delta.version()):
            reason = (
                f"source content unchanged (fingerprint {fingerprint[:40]}) since bronze "
                f"version {delta.version()}; nothing read"
            )
            return KindScope(full_read=True, fingerprint=fingerprint, skip_reason=reason)
        return KindScope(full_read=True, fingerprint=fingerprint)
    return KindScope()


def check_kind_columns(table: TableConfig, source_schema: pa.Schema) -> None:
    """Raise SourceSchemaError when a kind's column is missing or of an unusable type."""
    if table.kind == PARTITIONED:
        partitioned.check_partition_field(table, source_schema)
    if table.kind != SCD2:
        return
    for column in table.business_key:
        if column not in source_schema.names:
            raise SourceSchemaError(
                f"business_key {column!r} is not a column of {table.source}", table=table.name
            )
    flag = table.latest_column
    if not flag or flag not in source_schema.names:
        raise SourceSchemaError(
            f"latest_column {flag!r} is not a column of {table.source}", table=table.name
        )
    flag_type = source_schema.field(flag).type
    if not (pa.types.is_boolean(flag_type) or pa.types.is_integer(flag_type)):
        raise SourceSchemaError(
            f"latest_column {flag!r} is {flag_type}; it must be a boolean, bit or integer flag",
            table=table.name,
        )
