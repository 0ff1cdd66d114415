"""Answer entity-set queries: $select/$filter/$orderby/$top/$count, paging, change tracking."""

from __future__ import annotations

import bisect
import datetime as dt
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bronze_sync.testing.dataverse.model import Entity, Store
from bronze_sync.testing.dataverse.odata import (
    ODataError,
    Span,
    UnknownProperty,
    parse_filter,
    sort_key,
    span_of,
)
from bronze_sync.testing.dataverse.rows_json import Annotations, row_texts

MAX_PAGE_SIZE = 5000
COUNT_CAP = 5000  # `$count=true` counts at most this many rows
QUERY_CACHE_SIZE = 32  # distinct queries (filter, order, data version) kept between pages
EXPIRED_TOKEN = "0x80044352"
_COOKIE = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Query:
    """The parsed request of one entity-set GET."""

    params: dict[str, str]
    page_size: int
    track_changes: bool
    annotations: Annotations
    base_url: str


def run_query(store: Store, entity: Entity, query: Query) -> tuple[dict[str, Any], list[str]]:
    """Return the response body and the preferences applied."""
    params = query.params
    select = _select(entity, params.get("$select"))
    applied = [f"odata.maxpagesize={query.page_size}"]
    if "$deltatoken" in params:
        return _delta(store, entity, query, select), applied
    cookie = _cookie(params.get("$skiptoken"))
    tracking = query.track_changes or cookie.get("istracking") == "True"
    if tracking and not entity.change_tracking:
        raise ODataError(
            f"Entity '{entity.logical_name}' is not enabled for change tracking.", "0x80044353"
        )
    if tracking:
        applied.append("odata.track-changes")
    with store.lock:
        upper = int(cookie.get("upper", store.version))
        rows, ids = _matching_cached(store, entity, params)
        total = len(rows)
        if "$top" in params:
            rows, ids = rows[: int(params["$top"])], ids[: int(params["$top"])]
        start = int(cookie.get("offset", 0))
        if cookie.get("last") and "$orderby" not in params:
            start = bisect.bisect_right(ids, cookie["last"])  # rows are in primary-id order
        page = rows[start : start + query.page_size]
        more = len(rows) > start + query.page_size
        body: dict[str, Any] = {"@odata.context": _context(query, entity, select)}
        if params.get("$count") == "true":
            # Dataverse counts up to 5,000 and says when there are more.
            body["@odata.count"] = min(total, COUNT_CAP)
            if total > COUNT_CAP:
                body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = True
        body["value"] = row_texts(entity, page, select, query.annotations)
    if more:
        state = {
            "pagenumber": str(int(cookie.get("pagenumber", 1)) + 1),
            "last": str(page[-1][entity.primary_id]).lower(),
            "offset": str(start + len(page)),
            "upper": str(upper),
            "istracking": "True" if tracking else "False",
        }
        body["@odata.nextLink"] = _link(query, entity, {**params, "$skiptoken": _encode(state)})
    elif tracking:
        link_params = {k: v for k, v in params.items() if k in {"$select"}}
        link_params["$deltatoken"] = _token(upper)
        body["@odata.deltaLink"] = _link(query, entity, link_params)
    return body, applied


def _delta(store: Store, entity: Entity, query: Query, select: list[str]) -> dict[str, Any]:
    params = query.params
    since = _token_version(params["$deltatoken"])
    cookie = _cookie(params.get("$skiptoken"))
    with store.lock:
        if since < store.min_token_version.get(entity.logical_name, 0):
            raise ODataError(
                "Version stamp associated with the client has expired. Please perform a full sync.",
                EXPIRED_TOKEN,
            )
        upper = int(cookie.get("upper", store.version))
        upserts = sorted((v, k) for k, v in entity.versions.items() if since < v <= upper)
        deletes = sorted((v, k) for k, v in entity.tombstones.items() if since < v <= upper)
        start = int(cookie.get("offset", 0))
        stop = start + query.page_size
        # Only this page's rows are shaped: upserts first, then deletions, in version order.
        shown = [entity.rows[k] for _, k in upserts[start:stop]]
        page: list[Any] = row_texts(entity, shown, select, query.annotations)
        context = f"{query.base_url}/$metadata#{entity.entity_set}/$deletedEntity"
        first = max(0, start - len(upserts))
        page += [
            {"@odata.context": context, "id": k, "reason": "deleted"}
            for _, k in deletes[first : max(0, stop - len(upserts))]
        ]
        total = len(upserts) + len(deletes)
    body: dict[str, Any] = {
        "@odata.context": _context(query, entity, select) + "/$delta",
        "value": page,
    }
    if total > stop:
        state = {"offset": str(start + len(page)), "upper": str(upper)}
        body["@odata.nextLink"] = _link(query, entity, {**params, "$skiptoken": _encode(state)})
    else:
        link_params = {"$select": params.get("$select", ""), "$deltatoken": _token(upper)}
        body["@odata.deltaLink"] = _link(query, entity, {k: v for k, v in link_params.items() if v})
    return body


def _select(entity: Entity, text: str | None) -> list[str]:
    if not text:
        return entity.columns()
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if entity.attribute(name) is None:
            raise UnknownProperty(
                f"Could not find a property named '{name}' on type "
                f"'Microsoft.Dynamics.CRM.{entity.logical_name}'."
            )
    return names if entity.primary_id in names else [entity.primary_id, *names]


def _matching_cached(
    store: Store, entity: Entity, params: dict[str, str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the rows matching a query and their lower-case ids, computed once per query.

    Dataverse serves the next page of a query from an index; filtering and sorting every row
    again for each page made the emulator's cost grow with the table, not with the page.
    """
    where, order = params.get("$filter"), params.get("$orderby")
    key = (entity.logical_name, id(entity), store.version, where, order)
    hit = store.query_cache.get(key)
    if hit is None:
        if where or order:
            predicate = None
            if where:
                predicate = parse_filter(where, lambda n: entity.attribute(n) is not None)
            clauses = _orderby(entity, order)
            # Filtering the rows already in primary-id order keeps that order for free.
            rows, ids = _matching_cached(store, entity, {})
            span = span_of(predicate) if predicate is not None else None
            keep = _positions(store, entity, rows, span) if span is not None else None
            if keep is not None:
                rows, ids, predicate = [rows[i] for i in keep], [ids[i] for i in keep], None
            hit = _matching(rows, ids, predicate, clauses)
        else:
            rows = sorted(entity.rows.values(), key=lambda r: str(r[entity.primary_id]).lower())
            hit = (rows, [str(r[entity.primary_id]).lower() for r in rows])
        store.query_cache[key] = hit
        while len(store.query_cache) > QUERY_CACHE_SIZE:
            store.query_cache.pop(next(iter(store.query_cache)))
    return hit


def _positions(
    store: Store, entity: Entity, rows: list[dict[str, Any]], span: Span
) -> list[int] | None:
    """Return the positions of the rows in `span`, in order, from an index on its column.

    Dataverse answers a `createdon` range from an index; evaluating the filter on every row
    (four ranges and two bounds per full read) made the emulator's CPU the ranged reads' limit.
    None when the column holds anything but UTC date-times and nulls.
    """
    key = ("index", entity.logical_name, id(entity), store.version, span.column)
    if key not in store.query_cache:
        store.query_cache[key] = _index(rows, span.column)
    index = store.query_cache[key]
    if index is None:
        return None
    stamps, order, nulls = index
    picked: list[int] = []
    if span.values:
        low = bisect.bisect_left(stamps, span.low) if span.low is not None else 0
        high = bisect.bisect_left(stamps, span.high) if span.high is not None else len(stamps)
        picked = order[low:high]
    return sorted(picked + nulls) if span.nulls else sorted(picked)


def _index(
    rows: list[dict[str, Any]], column: str
) -> tuple[list[dt.datetime], list[int], list[int]] | None:
    """Return `column`'s sorted values, their positions and its nulls' (None: not date-times)."""
    values: list[Any] = [row.get(column) for row in rows]
    if any(v is not None and type(v) is not dt.datetime for v in values):
        return None  # kept too: the next filter on this column skips the scan
    value: Callable[[int], Any] = values.__getitem__
    order = sorted((i for i, v in enumerate(values) if v is not None), key=value)
    return [values[i] for i in order], order, [i for i, v in enumerate(values) if v is None]


def _matching(
    rows: list[dict[str, Any]],
    ids: list[str],
    predicate: Callable[[dict[str, Any]], bool] | None,
    clauses: list[tuple[str, bool]],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the rows (in primary-id order) that match, sorted by the $orderby clauses.

    The ids are only kept for unordered results: ordered ones page by offset.
    """
    if predicate is not None:
        # Positions, not (row, id) pairs: 200,000 new tuples set off full garbage
        # collections over every stored row, several times the filter's own cost.
        keep = [i for i, row in enumerate(rows) if predicate(row)]
        rows, ids = [rows[i] for i in keep], [ids[i] for i in keep]
    if not clauses:
        return rows, ids
    for name, descending in reversed(clauses):
        rows = _sorted(rows, name, descending)
    return rows, []


def _sorted(rows: list[dict[str, Any]], name: str, descending: bool) -> list[dict[str, Any]]:
    """Return `rows` stably sorted by column `name` (nulls first ascending)."""
    values = [row.get(name) for row in rows]
    value: Callable[[int], Any] = values.__getitem__
    if {type(v) for v in values} == {dt.datetime}:
        # Stored datetimes are all UTC (`model._clean`), so they order as the ISO text
        # `sort_key` writes; sorting positions by the values themselves skips a Python key
        # call per row (the created-date bounds sort every row of the table).
        order = sorted(range(len(rows)), key=value, reverse=descending)
    else:
        keys = [sort_key(v) for v in values]
        order = sorted(range(len(rows)), key=lambda i: keys[i], reverse=descending)
    return [rows[i] for i in order]


def _orderby(entity: Entity, text: str | None) -> list[tuple[str, bool]]:
    clauses = []
    for part in (text or "").split(","):
        words = part.split()
        if not words:
            continue
        if entity.attribute(words[0]) is None:
            raise UnknownProperty(f"Could not find a property named '{words[0]}' on type.")
        clauses.append((words[0], len(words) > 1 and words[1].lower() == "desc"))
    return clauses


def _context(query: Query, entity: Entity, select: list[str]) -> str:
    return f"{query.base_url}/$metadata#{entity.entity_set}({','.join(select)})"


def _link(query: Query, entity: Entity, params: dict[str, str]) -> str:
    text = urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="$,'")
    return f"{query.base_url}/{entity.entity_set}?{text}"


def _encode(state: dict[str, str]) -> str:
    return "<cookie " + " ".join(f'{k}="{v}"' for k, v in state.items()) + " />"


def _cookie(text: str | None) -> dict[str, str]:
    return dict(_COOKIE.findall(text or ""))


def _token(version: int) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%m/%d/%Y %H:%M:%S")
    return f"{version}!{stamp}"


def _token_version(token: str) -> int:
    try:
        return int(token.split("!", 1)[0])
    except ValueError:
        raise ODataError("The delta token is malformed.", "0x80044352") from None
