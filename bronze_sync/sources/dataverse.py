"""`DataverseSource`: rows, keys and change-tracked changes from the Dataverse Web API."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from bronze_sync.config.connections import DataverseSourceConfig
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import ConfigError
from bronze_sync.sources.base import ChangeFeed, ExtractPlan, Source
from bronze_sync.sources.dataverse_auth import TokenProvider, make_session
from bronze_sync.sources.dataverse_changes import CHANGE_TOKEN, read_delta
from bronze_sync.sources.dataverse_choices import choice_tables
from bronze_sync.sources.dataverse_http import ChangeTokenExpiredError, DataverseHttp
from bronze_sync.sources.dataverse_pages import read_page
from bronze_sync.sources.dataverse_ranges import created_ranges, parse_stamp, range_filters
from bronze_sync.sources.dataverse_schema import (
    LOOKUP_NAME,
    EntityInfo,
    check_columns,
    fetch_entity,
    selected_schema,
    to_batch,
)
from bronze_sync.sources.streams import merge_streams

log = logging.getLogger(__name__)
KEYS_PER_LOOKUP = 40
BOUNDS = ("asc", "desc")  # oldest, newest


class DataverseSource(Source):
    """A Dataverse environment; `table.source` is the entity's logical name."""

    kind = "dataverse"
    # Moving a row to long-term retention sets msft_datastate without touching modifiedon.
    modified_marks_every_change = False

    def __init__(self, config: DataverseSourceConfig) -> None:
        self.config = config
        self.session = make_session(config)
        self.http = DataverseHttp(config, self.session, TokenProvider(config, self.session))
        self._entities: dict[str, EntityInfo] = {}
        self._positions: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    # -- metadata ------------------------------------------------------------------------
    def entity(self, table: TableConfig) -> EntityInfo:
        """Return (cached) metadata of the table's entity."""
        name = table.source_table
        with self._lock:
            cached = self._entities.get(name)
        if cached is None:
            cached = fetch_entity(self.http, name)
            with self._lock:
                self._entities[name] = cached
        return cached

    def describe(self, table: TableConfig) -> pa.Schema:
        """Return the Arrow schema built from EntityDefinitions/Attributes."""
        info = self.entity(table)
        check_columns(info, list(table.primary_key), "primary_key")
        for setting in ("created_column", "modified_column"):
            value = getattr(table, setting)
            if value:
                check_columns(info, [value], setting)
        return selected_schema(info, table)

    def columns_not_copied(self, table: TableConfig) -> dict[str, str]:
        """Return the entity's file, image and other columns without a bronze type."""
        return dict(self.entity(table).skipped)

    def reference_tables(self, table: TableConfig) -> dict[str, pa.Table] | None:
        """Return the entity's choice labels and lookup targets (Link to Fabric's tables)."""
        return choice_tables(self.http, table.source_table)

    # -- reads ---------------------------------------------------------------------------
    def read_rows(
        self, table: TableConfig, schema: pa.Schema, since: dt.datetime | None
    ) -> Iterator[pa.RecordBatch]:
        """Yield rows page by page; a full read under change tracking keeps the deltaLink."""
        params = {"$select": self.entity(table).select(schema)}
        if since is not None and table.modified_column:
            stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            params["$filter"] = f"{table.modified_column} ge {stamp}"
        if since is not None:
            yield from self._pages(table, schema, params)
        elif self.tracks_changes(table):  # one stream: only its end carries the deltaLink
            yield from self._pages(table, schema, params, True)
        else:
            yield from self._full_read(table, schema, params)

    def read_columns(self, table: TableConfig, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """Yield a few columns of every current row (no change tracking: keeps no deltaLink)."""
        yield from self._full_read(table, schema, {"$select": self.entity(table).select(schema)})

    def read_keys(self, table: TableConfig, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """Yield every current primary key (a paged `$select` of the key only)."""
        key_schema = pa.schema([schema.field(k) for k in table.primary_key])
        select = self.entity(table).select(key_schema)
        yield from self._full_read(table, key_schema, {"$select": select})

    def read_rows_by_keys(
        self, table: TableConfig, schema: pa.Schema, keys: pa.Table
    ) -> Iterator[pa.RecordBatch]:
        """Yield the current rows with the given keys (chunks of `or`-ed `eq` filters)."""
        (key,) = table.primary_key  # Dataverse entities have one primary id
        values = [v for v in keys.column(key).to_pylist() if v is not None]
        for start in range(0, len(values), KEYS_PER_LOOKUP):
            chunk = values[start : start + KEYS_PER_LOOKUP]
            condition = " or ".join(f"{key} eq {_literal(v)}" for v in chunk)
            params = {"$select": self.entity(table).select(schema), "$filter": condition}
            yield from self._pages(table, schema, params)

    def read_changes(self, plan: ExtractPlan) -> ChangeFeed | None:
        """Return changes since the saved deltaLink, or a full tracked read when there is none."""
        table = plan.table
        if not self.tracks_changes(table):
            return None
        token = plan.state.get(CHANGE_TOKEN)
        entity = self.entity(table)
        select = entity.select(plan.schema)
        if token and _selected(token) != set(select.split(",")):
            log.warning("%s: the columns changed since the change token; full read", table.name)
            token = None
        if token:
            try:
                prefer = self._prefer(True, _annotated(entity, plan.schema))
                return read_delta(self.http, entity, plan.schema, token, prefer)
            except ChangeTokenExpiredError as exc:
                log.warning("%s; falling back to a full read with a key comparison", exc)
        state: dict[str, str] = {}
        rows = self._pages(table, plan.schema, {"$select": select}, True, state)
        return ChangeFeed(rows=rows, deleted_keys=_no_keys(plan, table), state=state, full=True)

    def change_state(self, table: TableConfig) -> Mapping[str, str] | None:
        """Return the deltaLink reached by the last full tracked read of `table`."""
        return self._positions.get(table.name)

    def tracks_changes(self, table: TableConfig) -> bool:
        """Return whether `table` is read with change tracking (config and entity setting)."""
        mode = self.config.change_tracking
        if mode == "off":
            return False
        enabled = self.entity(table).change_tracking
        if mode == "on" and not enabled:
            raise ConfigError(
                f"source.change_tracking is on but entity {table.source_table!r} does not have "
                "change tracking enabled (enable it in the table's properties, or use auto)"
            )
        return enabled

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    # -- paging --------------------------------------------------------------------------
    def _full_read(
        self, table: TableConfig, schema: pa.Schema, params: dict[str, str]
    ) -> Iterator[pa.RecordBatch]:
        """Yield every row, reading `created_column` ranges in parallel when configured."""
        column = table.created_column
        bounds = None
        if column and self.config.parallel_reads > 1:
            bounds = self._created_bounds(table, column)
        if column is None or bounds is None:
            yield from self._pages(table, schema, params)
            return
        filters = range_filters(column, created_ranges(*bounds, self.config.parallel_reads))
        ranges = [
            functools.partial(self._pages, table, schema, {**params, "$filter": f}) for f in filters
        ]
        yield from merge_streams(ranges)

    def _created_bounds(
        self, table: TableConfig, column: str
    ) -> tuple[dt.datetime, dt.datetime] | None:
        """Return the oldest and newest non-null `column` values (None: no row has one)."""
        # Both ends at once: each is a round trip before any range can start.
        with ThreadPoolExecutor(max_workers=2) as pool:
            ends = list(pool.map(functools.partial(self._created_end, table, column), BOUNDS))
        oldest, newest = ends
        if oldest is None or newest is None:
            return None
        return oldest, newest

    def _created_end(self, table: TableConfig, column: str, order: str) -> dt.datetime | None:
        """Return the first non-null `column` value in `order` (one row, one request)."""
        params = {
            "$select": column,
            "$filter": f"{column} ne null",
            "$orderby": f"{column} {order}",
            "$top": "1",
        }
        url = f"{self.entity(table).entity_set}?{_query(params)}"
        rows = self.http.get(url, table.source_table)[0].get("value", [])
        if not rows or rows[0].get(column) is None:
            return None
        return parse_stamp(str(rows[0][column]))

    def _prefer(self, track: bool, annotated: bool) -> str:
        # Only the lookups' logical names: formatted values are not synced, and asking for
        # every annotation made each row a third longer to send and to parse.
        prefer = f"odata.maxpagesize={self.config.page_size}"
        if annotated:
            prefer += f',odata.include-annotations="{LOOKUP_NAME[1:]}"'
        return f"{prefer},odata.track-changes" if track else prefer

    def _pages(
        self,
        table: TableConfig,
        schema: pa.Schema,
        params: dict[str, str],
        track: bool = False,
        state: dict[str, str] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        entity = self.entity(table)
        url: str | None = f"{entity.entity_set}?{_query(params)}"
        wire = entity.wire_schema(schema)
        prefer = self._prefer(track, wire != schema)
        decode = functools.partial(read_page, schema=wire)
        while url:
            page, _ = self.http.get_decoded(url, table.source_table, decode, prefer)
            batch = page.batch
            if batch is None and page.rows:
                batch = to_batch(page.rows, wire, table.name)
            if batch is not None and batch.num_rows:
                yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)
            url = page.next_link
            if not url and track and page.delta_link:
                position = {CHANGE_TOKEN: str(page.delta_link)}
                self._positions[table.name] = position
                if state is not None:
                    state.update(position)


def _query(params: dict[str, str]) -> str:
    """Return OData query options as a URL query string (`$` and quotes left readable)."""
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="$,'")


def _annotated(entity: EntityInfo, schema: pa.Schema) -> bool:
    """Return True when reading `schema` needs the lookups' logical-name annotations."""
    return entity.wire_schema(schema) != schema


def _selected(link: str) -> set[str]:
    """Return the columns a deltaLink's `$select` reads."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
    return {c for c in ",".join(query.get("$select", [])).split(",") if c}


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def _no_keys(plan: ExtractPlan, table: TableConfig) -> pa.Table:
    return pa.schema([plan.schema.field(k) for k in table.primary_key]).empty_table()
