"""Rows as Web API JSON text, each row's text kept until the row changes.

Encoding a 5,000-row page property by property cost the emulator about 0.15 s of CPU, so
parallel readers queued behind one busy process. A row's JSON only changes when the row is
written (`Store.upsert` gives it a new dict and a new version), so the text is cached per
row and a page is the join of its rows' texts. The text is exactly what
`encode_object(shape(...))` gives; tests compare the two.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring_ascii as quote
from typing import Any

from bronze_sync.testing.dataverse.model import LOOKUP_TYPES, Attribute, Entity
from bronze_sync.testing.dataverse.odata import Raw, encode_value

FORMATTED = "@OData.Community.Display.V1.FormattedValue"
LOOKUP_NAME = "@Microsoft.Dynamics.CRM.lookuplogicalname"
LABELLED = {"Money", "Picklist", "State", "Status"}
# odata.include-annotations patterns asked for ("*", "Ns.*" or a name); empty: none.
Annotations = tuple[str, ...]
SELECTIONS_KEPT = 4  # distinct ($select, annotations) shapes cached per entity
# (property, `"property":` text, annotation suffix or None, annotation text or None,
#  choice labels by value or None)
Step = tuple[str, str, str | None, str | None, dict[int, str] | None]
# Row key -> (the row dict, its version, its JSON text)
Texts = dict[str, tuple[dict[str, Any], int, Raw]]


def wants(annotations: Annotations, term: str) -> bool:
    """Return True when the `odata.include-annotations` patterns ask for annotation `term`."""
    term = term.lstrip("@")
    return any(
        p == "*" or p == term or (p.endswith(".*") and term.startswith(p[:-1])) for p in annotations
    )


def parse_annotations(prefer: str) -> Annotations:
    """Return the patterns of a Prefer header's `odata.include-annotations` (none: ())."""
    match = re.search(r'odata\.include-annotations=(?:"([^"]*)"|([^,;\s]*))', prefer)
    if match is None:
        return ()
    patterns = match.group(1) if match.group(1) is not None else match.group(2)
    return tuple(p.strip() for p in patterns.split(",") if p.strip())


def shape(entity: Entity, row: dict[str, Any], select: list[str], annotations: Annotations) -> dict:
    """Return one row as the Web API writes it: etag, selected properties, annotations."""
    out: dict[str, Any] = {
        "@odata.etag": f'W/"{entity.versions.get(str(row[entity.primary_id]), 0)}"'
    }
    for name in select:
        value = row.get(name)
        out[name] = value
        attr = entity.attribute(name)
        if attr is not None and value is not None:
            if attr.type in LOOKUP_TYPES and wants(annotations, LOOKUP_NAME):
                out[f"{name}{LOOKUP_NAME}"] = lookup_target(attr, row, name)
            elif attr.type in LABELLED and wants(annotations, FORMATTED):
                out[f"{name}{FORMATTED}"] = attr.labels().get(value, str(value))
    return out


def lookup_target(attr: Attribute, row: dict[str, Any], name: str) -> str:
    """Return the entity a row's lookup points to: its own (polymorphic) or the first target."""
    return row.get(name + LOOKUP_NAME) or (attr.targets or ("",))[0]


def row_texts(
    entity: Entity, rows: list[dict[str, Any]], select: list[str], annotations: Annotations
) -> list[Raw]:
    """Return the JSON text of each row, from the cache unless the row changed since."""
    plan_key = (tuple(select), annotations, len(entity.attributes))
    cache: tuple[Texts, list[Step]] | None = entity.json_cache.get(plan_key)
    if cache is None:
        while len(entity.json_cache) >= SELECTIONS_KEPT:
            entity.json_cache.pop(next(iter(entity.json_cache)))
        cache = entity.json_cache[plan_key] = ({}, _plan(entity, select, annotations))
    texts, plan = cache
    primary, versions = entity.primary_id, entity.versions
    out = []
    for row in rows:
        key = str(row[primary])
        version = versions.get(key, 0)
        hit = texts.get(key)
        # The row dict itself is kept, not its id: an upsert always stores a new dict.
        if hit is None or hit[0] is not row or hit[1] != version:
            hit = texts[key] = (row, version, Raw(_encode(row, version, plan)))
        out.append(hit[2])
    return out


def _plan(entity: Entity, select: list[str], annotations: Annotations) -> list[Step]:
    steps = []
    for name in select:
        attr = entity.attribute(name)
        suffix = target = labels = None
        if attr is not None:
            if attr.type in LOOKUP_TYPES and wants(annotations, LOOKUP_NAME):
                suffix, target = LOOKUP_NAME, quote((attr.targets or ("",))[0])
            elif attr.type in LABELLED and wants(annotations, FORMATTED):
                suffix, labels = FORMATTED, attr.labels() or None
        prefix = quote(name) + ":"
        steps.append((name, prefix, suffix and quote(name + suffix) + ":", target, labels))
    return steps


def _encode(row: dict[str, Any], version: int, plan: list[Step]) -> str:
    parts = ['{"@odata.etag":' + quote(f'W/"{version}"')]
    for name, prefix, suffix, target, labels in plan:
        value = row.get(name)
        parts.append(prefix + _ENCODERS.get(type(value), encode_value)(value))
        if suffix is not None and value is not None:
            if target is None:
                label = labels.get(value) if labels is not None else None
                target = quote(label if label is not None else str(value))
            elif row.get(name + LOOKUP_NAME):  # a polymorphic lookup names its own entity
                target = quote(row[name + LOOKUP_NAME])
            parts.append(suffix + target)
    return ",".join(parts) + "}"


def _datetime(value: dt.datetime) -> str:
    # isoformat is several times cheaper than strftime; it agrees for whole-second UTC
    # times from year 1000 on (what the store keeps), others take encode_value's path.
    if value.tzinfo is dt.UTC and not value.microsecond and value.year >= 1000:
        return '"' + value.isoformat()[:19] + 'Z"'
    return encode_value(value)


_ENCODERS: dict[type, Callable[[Any], str]] = {
    type(None): lambda _: "null",
    bool: lambda v: "true" if v else "false",
    int: int.__repr__,
    str: quote,
    Decimal: lambda v: format(v, "f"),
    dt.datetime: _datetime,
}
