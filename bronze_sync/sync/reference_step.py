"""Refresh the reference tables a source publishes beside the data (Dataverse: choice labels).

Each table holds rows for many entities (column EntityName). A sync rewrites only its own
entity's rows, and only when they differ from what is stored, in one commit
(`overwrite` with a predicate on EntityName): readers never see an entity half-refreshed,
and concurrent syncs of other entities are retried on conflict, never lost.
"""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import write_deltalake

from bronze_sync.config.models import TableConfig
from bronze_sync.identifiers import quote_delta
from bronze_sync.metadata.schemas import register_schema
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.retry import retry_commit
from bronze_sync.sources.dataverse_choices import CHOICE_SCHEMAS
from bronze_sync.sync.job import SyncJob

log = logging.getLogger(__name__)
ENTITY_COLUMN = "EntityName"

for _name, _schema in CHOICE_SCHEMAS.items():
    register_schema(_name, _schema)


def refresh_reference_tables(job: SyncJob, table: TableConfig) -> list[str]:
    """Rewrite the table's rows of each reference table that changed; return their names."""
    published = job.source.reference_tables(table)
    if not published:
        return []
    entity = table.source_table
    changed = []
    for name, rows in published.items():
        if _stored(job.meta, name, entity) != _sorted_rows(rows):
            _replace(job.meta, name, entity, rows)
            changed.append(name)
    return changed


def _stored(meta: MetadataStore, name: str, entity: str) -> list[tuple[Any, ...]]:
    data = meta.read(name)
    return _sorted_rows(data.filter(pc.equal(data.column(ENTITY_COLUMN), entity)))


def _sorted_rows(data: pa.Table) -> list[tuple[Any, ...]]:
    return sorted((tuple(row.values()) for row in data.to_pylist()), key=repr)


def _replace(meta: MetadataStore, name: str, entity: str, rows: pa.Table) -> None:
    uri, options = meta.uri(name), meta.store.options()
    meta.store.ensure_root()
    if meta.store.open(uri) is None:
        # Created empty first: two first writers' appends would both land.
        empty = rows.schema.empty_table()
        retry_commit(
            lambda: write_deltalake(uri, empty, mode="ignore", storage_options=options),
            f"create metadata/{name}",
        )
    literal = "'" + entity.replace("'", "''") + "'"
    predicate = f"{quote_delta(ENTITY_COLUMN)} = {literal}"
    retry_commit(
        lambda: write_deltalake(
            uri, rows, mode="overwrite", predicate=predicate, storage_options=options
        ),
        f"refresh metadata/{name} for {entity}",
    )
