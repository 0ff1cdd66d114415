"""SCD Type 2 tables (kind scd2): bronze keeps every version the source keeps.

A version's key is its business key plus its modified time (the primary key). When a newer
latest version of a business key arrives, the older bronze versions of that key that are
still flagged latest are cleared in the same commit, so exactly one version per business key
is latest, as in the source. The first sync loads the versions of the last
`initial_load_days` plus every latest version; the start of that window is kept (PipelineConfig
and the first commit's metadata), so later syncs never fetch older versions as late inserts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from bronze_sync.bronze.commit import commit_fields
from bronze_sync.bronze.reader import FRAGMENT as STATE_FRAGMENT
from bronze_sync.bronze.reader import ROW as STATE_ROW
from bronze_sync.bronze.reader import StateScope, fill_flags, read_state
from bronze_sync.bronze.rewrite import FRAGMENT, ROW
from bronze_sync.config.models import TableConfig
from bronze_sync.rows.keyset import KeyIndex

LOADED_FROM = "Scd2LoadedFrom"  # PipelineConfig column


def initial_since(table: TableConfig, now: dt.datetime) -> dt.datetime:
    """Return the start of the first sync's window: versions at or after it are loaded."""
    return now - dt.timedelta(days=table.initial_load_days)


def loaded_from(delta: DeltaTable, state: Mapping[str, Any]) -> dt.datetime | None:
    """Return the start of the first sync's window (None: every version was loaded).

    PipelineConfig keeps it; the table's first commit records it too (metadata rebuilt).
    """
    text = state.get(LOADED_FROM)
    if not text:
        first = next((h for h in delta.history() if h.get("version") == 0), {})
        text = commit_fields(first).get("loaded_from")
    return dt.datetime.fromisoformat(str(text)) if text else None


def state_scope(table: TableConfig) -> StateScope:
    """Return the extra state columns an scd2 sync reads (the latest flag)."""
    return StateScope(columns=(table.latest_column,)) if table.latest_column else StateScope()


def latest_state(delta: DeltaTable, table: TableConfig) -> pa.Table:
    """Read the key, latest flag and file position of every bronze version."""
    state = read_state(delta, table.primary_key, None, None, scope=state_scope(table))
    return fill_flags(state.rows)


def latest_flips(state: pa.Table, extracted: pa.Table, table: TableConfig) -> pa.Table:
    """Return (key, file, row) of the active bronze versions a newer latest version supersedes.

    `state` holds bronze's key, latest, flag, file and row columns; `extracted` this sync's
    source versions. A version that is itself re-read is left to the normal update.
    """
    keys, business = list(table.primary_key), list(table.business_key)
    latest = table.latest_column
    empty = state.select(keys).slice(0, 0)
    empty = empty.append_column(FRAGMENT, pa.array([], pa.int32()))
    empty = empty.append_column(ROW, pa.array([], pa.int32()))
    if not latest or latest not in extracted.column_names or not extracted.num_rows:
        return empty
    arriving = extracted.filter(pc.fill_null(pc.cast(extracted.column(latest), pa.bool_()), False))
    if not arriving.num_rows:
        return empty
    held = pc.fill_null(pc.cast(state.column(latest), pa.bool_()), False)
    active = pc.invert(pc.or_(state.column("IsDeleted"), state.column("IsPurged")))
    candidates = state.filter(pc.and_(held, active))
    superseded = KeyIndex(arriving.select(business), business).contains(candidates.select(business))
    reread = KeyIndex(extracted.select(keys), keys).contains(candidates.select(keys))
    chosen = candidates.filter(pa.array(superseded & ~reread))
    return pa.table(
        {
            **{k: chosen.column(k) for k in keys},
            FRAGMENT: chosen.column(STATE_FRAGMENT),
            ROW: chosen.column(STATE_ROW),
        }
    )


def arriving_versions(extracted: pa.Table, inserted: pa.Table, table: TableConfig) -> pa.Table:
    """Return the key and latest flag of every version a sync writes from the source.

    Besides the extracted rows these are the late inserts: versions modified before bronze's
    watermark, which the key scan finds and the plan fetches by key (a late commit).
    """
    columns = list(dict.fromkeys([*table.primary_key, table.latest_column or ""]))
    if not all(c in extracted.column_names and c in inserted.column_names for c in columns):
        return extracted
    read = extracted.select(columns)
    return pa.concat_tables([read, inserted.select(columns).cast(read.schema)])


def not_loaded(keys: pa.Table, table: TableConfig, since: dt.datetime | None) -> np.ndarray:
    """Return per source key whether it is a version older than the first sync's window."""
    column = table.modified_column
    if since is None or column is None or column not in keys.column_names:
        return np.zeros(keys.num_rows, dtype=bool)
    older = pc.less(keys.column(column), pa.scalar(since, keys.schema.field(column).type))
    return pc.fill_null(older, False).to_numpy(zero_copy_only=False)
