"""Answer entity-set queries: $select/$filter/$orderby/$top/$count, paging, change tracking."""

from __future__ import annotations

import bisect
import datetime as dt
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bronze_sync.testing.dataverse.model import LOOKUP_TYPES, Entity, Store
from bronze_sync.testing.dataverse.odata import (
    ODataError,
    UnknownProperty,
    parse_filter,
    sort_key,
)

MAX_PAGE_SIZE = 5000
QUERY_CACHE_SIZE = 32  # distinct queries (filter, order, data version) kept between pages
EXPIRED_TOKEN = "0x80044352"
_COOKIE = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Query:
    """The parsed request of one entity-set GET."""

    params: dict[str, str]
    page_size: int
    track_changes: bool
    annotations: bool
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
            body["@odata.count"] = total
        body["value"] = [_shape(entity, r, select, query.annotations) for r in page]
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
        changes: list[dict[str, Any]] = [
            _shape(entity, entity.rows[k], select, query.annotations) for _, k in upserts
        ]
        context = f"{query.base_url}/$metadata#{entity.entity_set}/$deletedEntity"
        changes += [{"@odata.context": context, "id": k, "reason": "deleted"} for _, k in deletes]
    start = int(cookie.get("offset", 0))
    page = changes[start : start + query.page_size]
    body: dict[str, Any] = {
        "@odata.context": _context(query, entity, select) + "/$delta",
        "value": page,
    }
    if len(changes) > start + query.page_size:
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
    key = (
        entity.logical_name,
        id(entity),
        store.version,
        params.get("$filter"),
        params.get("$orderby"),
    )
    hit = store.query_cache.get(key)
    if hit is None:
        rows = _matching(entity, params)
        hit = (rows, [str(r[entity.primary_id]).lower() for r in rows])
        store.query_cache[key] = hit
        while len(store.query_cache) > QUERY_CACHE_SIZE:
            store.query_cache.pop(next(iter(store.query_cache)))
    return hit


def _matching(entity: Entity, params: dict[str, str]) -> list[dict[str, Any]]:
    rows = list(entity.rows.values())
    if params.get("$filter"):
        predicate = parse_filter(params["$filter"], lambda n: entity.attribute(n) is not None)
        rows = [r for r in rows if predicate(r)]
    rows.sort(key=lambda r: str(r[entity.primary_id]).lower())
    for clause in reversed(_orderby(entity, params.get("$orderby"))):
        name, descending = clause
        rows.sort(key=_column_key(name), reverse=descending)
    return rows


def _column_key(name: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    # A factory, so each $orderby clause's key binds its own column name.
    return lambda row: sort_key(row.get(name))


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


def _shape(
    entity: Entity, row: dict[str, Any], select: list[str], annotations: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "@odata.etag": f'W/"{entity.versions.get(str(row[entity.primary_id]), 0)}"'
    }
    for name in select:
        value = row.get(name)
        out[name] = value
        attr = entity.attribute(name)
        if annotations and attr is not None and value is not None:
            if attr.type in LOOKUP_TYPES:
                out[f"{name}@Microsoft.Dynamics.CRM.lookuplogicalname"] = (attr.targets or ("",))[0]
            elif attr.type in {"Money", "Picklist", "State", "Status"}:
                out[f"{name}@OData.Community.Display.V1.FormattedValue"] = str(value)
    return out


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
