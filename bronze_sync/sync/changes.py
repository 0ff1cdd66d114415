"""Change-tracked extraction (a source's `ChangeFeed`) and long-term-retention keys."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from bronze_sync.config.models import TableConfig
from bronze_sync.rows.keys import check_keys
from bronze_sync.sources.base import ChangeFeed, ExtractPlan
from bronze_sync.staging import StagingArea
from bronze_sync.sync.job import PhaseTimer, SyncJob

log = logging.getLogger(__name__)
CHANGE_TOKEN = "change_token"
# Dataverse long-term retention: 1 = the row was moved to retention (its vanishing is a purge).
RETAINED_COLUMN = "msft_datastate"
RETAINED = 1


@dataclass(frozen=True)
class ChangedRows:
    """What a change feed gave the engine, in the shape the planner takes."""

    rows: pa.Table
    source_keys: pa.Table | None
    deleted_keys: pa.Table | None
    mode: str
    source_state: dict[str, str]


def extract_changes(
    job: SyncJob,
    table: TableConfig,
    staging: StagingArea,
    schema: pa.Schema,
    since: dt.datetime | None,
    token: str | None,
    timer: PhaseTimer,
) -> ChangedRows | None:
    """Stage the source's change feed, or return None to extract and scan keys as usual."""
    feed = read_feed(job, table, schema, since, token)
    if feed is None:
        return None
    with timer("extract"):
        rows = staging.stage("rows", feed.rows, schema)
        check_keys(rows, table.primary_key, table.name, "changed rows")
    keys = list(table.primary_key)
    full_keys = rows.select(keys) if feed.full and table.track_deletes else None
    deleted = feed.deleted_keys if not feed.full and table.track_deletes else None
    return ChangedRows(
        rows=rows,
        source_keys=full_keys,
        deleted_keys=deleted,
        mode="full" if feed.full else "changes",
        source_state=dict(feed.state),
    )


def read_feed(
    job: SyncJob,
    table: TableConfig,
    schema: pa.Schema,
    since: dt.datetime | None,
    token: str | None,
) -> ChangeFeed | None:
    """Ask the source for its changes since `token` (None: it has no change feed)."""
    state = {CHANGE_TOKEN: token} if token else {}
    feed = job.source.read_changes(ExtractPlan(table, schema, since, state))
    if feed is None:
        return None
    if feed.full:
        why = "no saved change token" if not token else "the saved change token was not usable"
        job.progress(table.name, "extract", f"full read with change tracking ({why})")
        if token:
            log.warning("%s: change token not usable; full read and key comparison", table.name)
    else:
        job.progress(table.name, "extract", "reading changes since the saved change token")
    return feed


def retained_keys(delta: DeltaTable, table: TableConfig, extracted: pa.Table) -> pa.Table | None:
    """Return the keys bronze or this extraction saw with msft_datastate = 1 (else None)."""
    if RETAINED_COLUMN not in delta.schema().to_arrow().names:
        return None
    keys = list(table.primary_key)
    seen = delta.to_pyarrow_dataset().to_table(
        columns=keys, filter=pc.field(RETAINED_COLUMN) == RETAINED
    )
    parts = [seen]
    if RETAINED_COLUMN in extracted.column_names:
        mask = pc.fill_null(pc.equal(extracted.column(RETAINED_COLUMN), RETAINED), False)
        parts.append(extracted.filter(mask).select(keys).cast(seen.schema))
    return pa.concat_tables(parts)


def saved_token(state_row: Mapping[str, object]) -> str | None:
    """Return the change token saved in the table's PipelineConfig row."""
    token = state_row.get("ChangeToken")
    return str(token) if token else None


def initial_state(job: SyncJob, table: TableConfig) -> dict[str, str] | None:
    """Return the change position the source reached while creating the table."""
    state = job.source.change_state(table)
    return dict(state) if state else None
