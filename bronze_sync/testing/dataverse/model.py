"""In-memory Dataverse tables: attribute metadata, rows, row versions and tombstones."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# Dataverse attribute types and the metadata class of each (for the typed casts).
METADATA_CLASS = {
    "String": "StringAttributeMetadata",
    "Memo": "MemoAttributeMetadata",
    "Uniqueidentifier": "UniqueIdentifierAttributeMetadata",
    "Money": "MoneyAttributeMetadata",
    "Decimal": "DecimalAttributeMetadata",
    "Double": "DoubleAttributeMetadata",
    "Integer": "IntegerAttributeMetadata",
    "BigInt": "BigIntAttributeMetadata",
    "Boolean": "BooleanAttributeMetadata",
    "DateTime": "DateTimeAttributeMetadata",
    "Picklist": "PicklistAttributeMetadata",
    "State": "StateAttributeMetadata",
    "Status": "StatusAttributeMetadata",
    "Lookup": "LookupAttributeMetadata",
    "Owner": "LookupAttributeMetadata",
    "EntityName": "EntityNameAttributeMetadata",
    "Virtual": "MultiSelectPicklistAttributeMetadata",
}
# Virtual columns' metadata class by AttributeTypeName.
VIRTUAL_CLASS = {
    "MultiSelectPicklistType": "MultiSelectPicklistAttributeMetadata",
    "ImageType": "ImageAttributeMetadata",
    "FileType": "FileAttributeMetadata",
}
LOOKUP_TYPES = {"Lookup", "Owner", "Customer"}
CHOICE_TYPES = {"Picklist", "State", "Status", "Virtual"}
LANGUAGE = 1033  # the emulated organisation's base language (English)


@dataclass(frozen=True)
class Option:
    """One choice of a choice column: its value, label and (Status) the state it belongs to."""

    value: int
    label: str
    state: int | None = None

    def metadata(self) -> dict[str, Any]:
        """Return the option as OptionMetadata JSON (one localized label)."""
        label = {"Label": self.label, "LanguageCode": LANGUAGE, "IsManaged": True}
        body: dict[str, Any] = {
            "Value": self.value,
            "Label": {"LocalizedLabels": [label], "UserLocalizedLabel": label},
        }
        if self.state is not None:
            body["@odata.type"] = "#Microsoft.Dynamics.CRM.StatusOptionMetadata"
            body["State"] = self.state
        return body


@dataclass(frozen=True)
class Attribute:
    """One column of an entity, as EntityDefinitions/Attributes describes it."""

    logical_name: str
    type: str
    precision: int | None = None  # Money/Decimal: digits after the point
    behavior: str = "UserLocal"  # DateTime: UserLocal | DateOnly | TimeZoneIndependent
    targets: tuple[str, ...] = ()  # Lookup: referenced entities
    attribute_of: str | None = None  # virtual "name" attributes of lookups
    options: tuple[Option, ...] = ()  # choice columns: their choices
    type_name: str | None = None  # AttributeTypeName when not `{type}Type` (Virtual columns)
    option_set: str | None = None  # a global choice's name (None: the column's own choices)

    def labels(self) -> dict[int, str]:
        """Return a choice column's labels by value."""
        return {option.value: option.label for option in self.options}

    def option_set_metadata(self, entity: str) -> dict[str, Any]:
        """Return the column's OptionSetMetadata (global or local) as the Web API does."""
        kind = {"State": "State", "Status": "Status"}.get(self.type, "Picklist")
        return {
            "Name": self.option_set or f"{entity}_{self.logical_name}",
            "IsGlobal": self.option_set is not None,
            "OptionSetType": kind,
            "Options": [option.metadata() for option in self.options],
        }

    @property
    def web_name(self) -> str:
        """Return the property name in Web API rows (`_x_value` for lookups)."""
        return f"_{self.logical_name}_value" if self.type in LOOKUP_TYPES else self.logical_name

    def metadata(self) -> dict[str, Any]:
        """Return the attribute as the Web API's metadata JSON."""
        type_name = self.type_name or f"{self.type}Type"
        cls = VIRTUAL_CLASS.get(type_name) or METADATA_CLASS.get(self.type, "AttributeMetadata")
        body: dict[str, Any] = {
            "@odata.type": "#Microsoft.Dynamics.CRM." + cls,
            "LogicalName": self.logical_name,
            "AttributeType": self.type,
            "AttributeTypeName": {"Value": type_name},
            "AttributeOf": self.attribute_of,
            "IsValidForRead": True,
            "IsPrimaryId": False,
        }
        if self.type in {"Money", "Decimal"}:
            body["Precision"] = self.precision
        if self.type == "DateTime":
            body["Format"] = "DateOnly" if self.behavior == "DateOnly" else "DateAndTime"
            body["DateTimeBehavior"] = {"Value": self.behavior}
        if self.type in LOOKUP_TYPES:
            body["Targets"] = list(self.targets)
        return body


@dataclass
class Entity:
    """An entity (table) with its rows keyed by primary id, versions and tombstones."""

    logical_name: str
    entity_set: str
    primary_id: str
    attributes: list[Attribute]
    change_tracking: bool = True
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    tombstones: dict[str, int] = field(default_factory=dict)
    metadata_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Readable attributes by web name, rebuilt when attributes are appended: shaping a page
    # looked every property of every row up by a linear search (half the emulator's CPU).
    _by_name: dict[str, Attribute] = field(default_factory=dict, repr=False, compare=False)
    _indexed: int = field(default=-1, repr=False, compare=False)
    # Rows' JSON text by (select, annotations, attribute count), see rows_json.row_texts.
    json_cache: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False, compare=False)

    def attribute(self, web_name: str) -> Attribute | None:
        """Return the readable attribute exposed as `web_name` in rows."""
        if self._indexed != len(self.attributes):
            self._by_name = {}
            for attr in self.attributes:
                if attr.attribute_of is None:
                    self._by_name.setdefault(attr.web_name, attr)
            self._indexed = len(self.attributes)
        return self._by_name.get(web_name)

    def columns(self) -> list[str]:
        """Return the Web API property names of every readable column."""
        return [a.web_name for a in self.attributes if a.attribute_of is None]


class Store:
    """Every entity of the emulated environment, with one global change version."""

    def __init__(self) -> None:
        self.entities: dict[str, Entity] = {}
        self.version = 1000
        self.min_token_version: dict[str, int] = {}
        self.lock = threading.RLock()
        # Query results by (entity, data version, filter, order): pages read from a snapshot.
        self.query_cache: dict[tuple[Any, ...], Any] = {}

    def add(self, entity: Entity) -> Entity:
        """Register `entity` (replacing one of the same name)."""
        self.entities[entity.logical_name] = entity
        return entity

    def by_set(self, entity_set: str) -> Entity | None:
        """Return the entity whose EntitySetName is `entity_set`."""
        return next((e for e in self.entities.values() if e.entity_set == entity_set), None)

    def _bump(self) -> int:
        self.version += 1
        return self.version

    def upsert(self, name: str, rows: Iterable[dict[str, Any]], now: dt.datetime) -> None:
        """Insert or replace rows (values keyed by Web API name); stamp version/modifiedon."""
        with self.lock:
            entity = self.entities[name]
            for row in rows:
                key = str(row[entity.primary_id])
                merged = {**entity.rows.get(key, {}), **{k: _clean(v) for k, v in row.items()}}
                merged.setdefault("createdon", _clean(now))
                if "modifiedon" not in row:
                    merged["modifiedon"] = _clean(now)
                version = self._bump()
                if entity.attribute("versionnumber"):
                    merged["versionnumber"] = version
                entity.rows[key] = merged
                entity.versions[key] = version
                entity.tombstones.pop(key, None)

    def delete(self, name: str, keys: Iterable[str]) -> int:
        """Delete rows by key, leaving tombstones for change tracking; return how many."""
        with self.lock:
            entity = self.entities[name]
            gone = 0
            for key in keys:
                if entity.rows.pop(str(key), None) is not None:
                    entity.versions.pop(str(key), None)
                    entity.tombstones[str(key)] = self._bump()
                    gone += 1
            return gone


def _clean(value: Any) -> Any:
    """Return a stored value as Dataverse keeps it (DateTime to whole seconds, UTC)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).replace(microsecond=0)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value
