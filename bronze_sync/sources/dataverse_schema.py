"""Entity metadata → Arrow schema, and Web API JSON rows → Arrow record batches."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.config.models import TableConfig
from bronze_sync.errors import SourceDataError, SourceSchemaError
from bronze_sync.sources.dataverse_http import DataverseHttp

UTC_TS = pa.timestamp("us", tz="UTC")
LOOKUPS = {"Lookup", "Owner", "Customer"}
LOOKUP_NAME = "@Microsoft.Dynamics.CRM.lookuplogicalname"
ENTITY_TYPE = "_entitytype"  # suffix of a lookup's logical-name column, as Link to Fabric
STRINGS = {"String", "Memo", "EntityName", "Uniqueidentifier", *LOOKUPS}
INTEGERS = {"Integer": pa.int32(), "BigInt": pa.int64(), "Picklist": pa.int32()}
INTEGERS |= {"State": pa.int32(), "Status": pa.int32()}
CASTS = {
    "Money": "MoneyAttributeMetadata",
    "Decimal": "DecimalAttributeMetadata",
    "DateTime": "DateTimeAttributeMetadata",
}


@dataclass(frozen=True)
class Column:
    """One readable column: its Web API property name, Dataverse type and Arrow type."""

    name: str
    logical_name: str
    attribute_type: str | None  # None when the metadata omits AttributeType
    arrow_type: pa.DataType
    target: str | None = None  # a lookup's referenced entity
    # A lookup's logical-name column: the `_x_value` property whose annotation it holds.
    annotates: str | None = None

    @property
    def wire_name(self) -> str:
        """Return the JSON property the column's values come from in Web API rows."""
        return f"{self.annotates}{LOOKUP_NAME}" if self.annotates else self.name


@dataclass(frozen=True)
class EntityInfo:
    """What the sync needs to know about one entity."""

    logical_name: str
    entity_set: str
    primary_id: str
    change_tracking: bool
    columns: tuple[Column, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (logical name, why) of columns not copied

    def schema(self) -> pa.Schema:
        """Return the Arrow schema of the entity's rows."""
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns])

    def select(self, schema: pa.Schema) -> str:
        """Return the `$select` that reads `schema` (a lookup's property for its type column)."""
        by_name = {c.name: c for c in self.columns}
        names: list[str] = []
        for name in schema.names:
            column = by_name.get(name)
            wanted = column.annotates if column is not None and column.annotates else name
            if wanted and wanted not in names:
                names.append(wanted)
        return ",".join(names)

    def wire_schema(self, schema: pa.Schema) -> pa.Schema:
        """Return `schema` with each field named as the JSON property its values come from."""
        wire = {c.name: c.wire_name for c in self.columns}
        return pa.schema([f.with_name(wire.get(f.name, f.name)) for f in schema])


def fetch_entity(http: DataverseHttp, name: str) -> EntityInfo:
    """Read EntityDefinitions and its Attributes (with the typed casts) for entity `name`."""
    base = f"EntityDefinitions(LogicalName='{_quote(name)}')"
    select = "LogicalName,EntitySetName,PrimaryIdAttribute,ChangeTrackingEnabled"
    info, _ = http.get(f"{base}?$select={select}", name)
    attrs, _ = http.get(
        f"{base}/Attributes?$select=LogicalName,AttributeType,AttributeTypeName,AttributeOf,"
        "IsValidForRead",
        name,
    )
    details: dict[str, dict[str, Any]] = {}
    for kind, cast in CASTS.items():
        if any(a.get("AttributeType") == kind for a in attrs["value"]):
            body, _ = http.get(f"{base}/Attributes/Microsoft.Dynamics.CRM.{cast}", name)
            details.update({a["LogicalName"]: a for a in body["value"]})
    columns: list[Column] = []
    skipped = []
    for attr in attrs["value"]:
        column = _column(attr, details.get(attr["LogicalName"], {}))
        if column is not None:
            columns.append(column)
            if column.attribute_type in LOOKUPS:
                columns.append(_entity_type_column(column))
        elif not attr.get("AttributeOf") and attr.get("IsValidForRead") is not False:
            type_name = (attr.get("AttributeTypeName") or {}).get("Value") or "unknown type"
            skipped.append((attr["LogicalName"], f"{type_name} has no bronze column type"))
    taken = [c.name for c in columns if not c.annotates]
    for clash in (c for c in columns if c.annotates and c.name in taken):
        skipped.append((clash.name, f"an attribute of that name hides {clash.annotates}'s type"))
    return EntityInfo(
        logical_name=info["LogicalName"],
        entity_set=info["EntitySetName"],
        primary_id=info["PrimaryIdAttribute"],
        change_tracking=bool(info.get("ChangeTrackingEnabled")),
        columns=tuple(c for c in columns if not (c.annotates and c.name in taken)),
        skipped=tuple(skipped),
    )


def _column(attr: dict[str, Any], detail: dict[str, Any]) -> Column | None:
    """Return the column for an attribute, or None when it is not a readable data column."""
    if attr.get("AttributeOf") or attr.get("IsValidForRead") is False:
        return None
    name, kind = attr["LogicalName"], attr.get("AttributeType")
    type_name = (attr.get("AttributeTypeName") or {}).get("Value", "")
    arrow = arrow_type(kind, type_name, detail)
    if arrow is None:
        return None
    if kind in LOOKUPS:
        targets = detail.get("Targets") or attr.get("Targets") or []
        target = targets[0] if targets else None
        return Column(f"_{name}_value", name, kind, arrow, target)
    return Column(name, name, kind, arrow)


def _entity_type_column(lookup: Column) -> Column:
    """Return the column holding the logical name of the entity a lookup row points to."""
    name = f"{lookup.logical_name}{ENTITY_TYPE}"
    return Column(name, name, "EntityName", pa.string(), annotates=lookup.name)


def arrow_type(kind: str | None, type_name: str, detail: dict[str, Any]) -> pa.DataType | None:
    """Return the Arrow type of a Dataverse attribute type (None: not synced)."""
    if kind in STRINGS or type_name == "MultiSelectPicklistType":
        return pa.string()
    if kind in INTEGERS:
        return INTEGERS[kind]
    if kind == "Boolean":
        return pa.bool_()
    if kind == "Double":
        return pa.float64()
    if kind == "Money":
        return pa.decimal128(19, int(detail.get("Precision") or 4))
    if kind == "Decimal":
        scale = int(detail.get("Precision") or 10)
        return pa.decimal128(23 if scale <= 10 else 38, scale)
    if kind == "DateTime":
        behavior = (detail.get("DateTimeBehavior") or {}).get("Value")
        return pa.date32() if behavior == "DateOnly" else UTC_TS
    return None


def to_batch(rows: list[dict[str, Any]], schema: pa.Schema, entity: str) -> pa.RecordBatch:
    """Return Web API rows as one record batch of `schema` (annotations are ignored)."""
    arrays = []
    for field, values in zip(schema, _columns(rows, schema.names), strict=True):
        try:
            arrays.append(_array(values, field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
            raise SourceDataError(
                f"column {field.name!r} holds a value that is not {field.type}: {exc}",
                table=entity,
            ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _columns(rows: list[dict[str, Any]], names: list[str]) -> list[Sequence[Any]]:
    """Return the rows' values column by column (None where a row lacks the property)."""
    if rows and len(names) > 1:
        # The Web API writes every selected property, null ones too, so one C-level lookup
        # of all of them per row is the common case (a third of the read path's CPU otherwise).
        try:
            return list(zip(*map(operator.itemgetter(*names), rows), strict=True))
        except KeyError:
            pass
    return [[row.get(name) for row in rows] for name in names]


def _array(values: Sequence[Any], kind: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return pc.cast(pa.array(values, pa.string()), kind)
    if pa.types.is_decimal(kind):
        return pa.array([None if v is None else Decimal(v) for v in values], kind)
    if pa.types.is_floating(kind):
        return pa.array([None if v is None else float(v) for v in values], kind)
    return pa.array(values, kind)


def selected_schema(info: EntityInfo, table: TableConfig) -> pa.Schema:
    """Return the schema of the columns the table's `columns` selection keeps (all without)."""
    schema = info.schema()
    chosen = table.columns
    if chosen is None:
        return schema
    # A column may be named by its logical name or its Web API name (`_x_value` of lookups).
    by_name = {c.logical_name: c.name for c in info.columns}
    by_name |= {c.name: c.name for c in info.columns}
    needed = [*table.primary_key, *(c for c in (table.created_column, table.modified_column) if c)]
    setting = "include" if chosen.include is not None else "exclude"
    named = []
    for name in chosen.include if chosen.include is not None else chosen.exclude:
        if name not in by_name:
            raise SourceSchemaError(
                f"columns.{setting}: {name!r} is not a readable column of entity "
                f"{info.logical_name!r}",
                table=table.name,
            )
        named.append(by_name[name])
    named += _companions(info, named, lookups_only=chosen.include is None)
    if chosen.include is None:
        kept = [n for n in schema.names if n not in named]
        refused = [n for n in named if n in needed]
        if refused:
            raise SourceSchemaError(
                f"columns.exclude: {refused[0]!r} is the table's primary key, created or "
                "modified column, which every sync reads",
                table=table.name,
            )
    else:
        kept = [n for n in schema.names if n in named or n in needed]
    return pa.schema([schema.field(n) for n in kept])


def _companions(info: EntityInfo, named: list[str], lookups_only: bool) -> list[str]:
    """Return the type columns of the named lookups (and, unless excluding, their lookups)."""
    out = []
    for column in info.columns:
        if column.annotates is None:
            continue
        if column.annotates in named and column.name not in named:
            out.append(column.name)
        elif not lookups_only and column.name in named and column.annotates not in named:
            out.append(column.annotates)
    return out


def check_columns(info: EntityInfo, names: list[str], setting: str) -> None:
    """Raise when a configured column is not a readable column of the entity."""
    known = {c.name for c in info.columns}
    for name in names:
        if name not in known:
            raise SourceSchemaError(
                f"{setting}: column {name!r} is not a readable column of entity "
                f"{info.logical_name!r}",
                table=info.logical_name,
            )


def _quote(value: str) -> str:
    return value.replace("'", "''")
