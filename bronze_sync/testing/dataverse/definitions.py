"""The emulator's discovery documents: the service document, `$metadata` and EntityDefinitions.

They follow the Dataverse Web API: the service document lists the entity sets, `$metadata`
is the CSDL (EDMX) of the entity types, and `EntityDefinitions` is a collection of
EntityMetadata that answers `$select`, `$filter` (on its own properties) and
`$expand=Attributes($select=…)`, by key (`(LogicalName='x')` or `(MetadataId)`) too. An
unknown property is answered with Dataverse's error code 0x80060888, as the service does.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import quoteattr

from bronze_sync.testing.dataverse.model import LOOKUP_TYPES, Entity, Store
from bronze_sync.testing.dataverse.odata import ODataError, UnknownProperty, parse_filter

ENTITY_TYPE = "Microsoft.Dynamics.CRM.EntityMetadata"
ATTRIBUTE_TYPE = "Microsoft.Dynamics.CRM.AttributeMetadata"
# Dataverse attribute type -> the Edm type of its Web API property.
EDM_TYPES = {
    "String": "Edm.String",
    "Memo": "Edm.String",
    "EntityName": "Edm.String",
    "Uniqueidentifier": "Edm.Guid",
    "Money": "Edm.Decimal",
    "Decimal": "Edm.Decimal",
    "Double": "Edm.Double",
    "Integer": "Edm.Int32",
    "Picklist": "Edm.Int32",
    "State": "Edm.Int32",
    "Status": "Edm.Int32",
    "BigInt": "Edm.Int64",
    "Boolean": "Edm.Boolean",
    "DateTime": "Edm.DateTimeOffset",
    "Virtual": "Edm.String",
    **dict.fromkeys(LOOKUP_TYPES, "Edm.Guid"),
}
ENTITY_PROPERTIES = (
    "MetadataId",
    "LogicalName",
    "SchemaName",
    "EntitySetName",
    "LogicalCollectionName",
    "PrimaryIdAttribute",
    "PrimaryNameAttribute",
    "ChangeTrackingEnabled",
    "IsCustomEntity",
    "IsPrivate",
)
ATTRIBUTE_PROPERTIES = frozenset(
    {
        "LogicalName",
        "AttributeType",
        "AttributeTypeName",
        "AttributeOf",
        "IsValidForRead",
        "IsPrimaryId",
        "EntityLogicalName",
        "Precision",
        "Format",
        "DateTimeBehavior",
        "Targets",
    }
)
_OPTION_SETS = ("OptionSet", "GlobalOptionSet")
_CHOICE_CLASSES = {
    "PicklistAttributeMetadata",
    "StateAttributeMetadata",
    "StatusAttributeMetadata",
    "MultiSelectPicklistAttributeMetadata",
}
_BY_NAME = re.compile(r"^LogicalName='([^']*)'$")
_EXPAND = re.compile(r"^(\w+)(?:\((.*)\))?$")


def service_document(store: Store, base: str) -> dict[str, Any]:
    """Return the OData service document: every entity set, and EntityDefinitions."""
    sets = [{"name": e.entity_set, "kind": "EntitySet", "url": e.entity_set} for e in _all(store)]
    sets.append({"name": "EntityDefinitions", "kind": "EntitySet", "url": "EntityDefinitions"})
    return {"@odata.context": f"{base}/$metadata", "value": sets}


def csdl(store: Store) -> str:
    """Return the `$metadata` document (EDMX 4.0) of the demo entity types."""
    types, sets = [], []
    for entity in _all(store):
        props = [
            f'<Property Name="{a.web_name}" Type="{EDM_TYPES.get(a.type, "Edm.String")}" />'
            for a in entity.attributes
            if a.attribute_of is None
        ]
        types.append(
            f'<EntityType Name="{entity.logical_name}"><Key><PropertyRef '
            f'Name="{entity.primary_id}" /></Key>{"".join(props)}</EntityType>'
        )
        sets.append(
            f'<EntitySet Name="{entity.entity_set}" '
            f'EntityType="Microsoft.Dynamics.CRM.{entity.logical_name}" />'
        )
    sets.append(f'<EntitySet Name="EntityDefinitions" EntityType="{ENTITY_TYPE}" />')
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
        '<edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" '
        'xmlns="http://docs.oasis-open.org/odata/ns/edm">'
        f"{''.join(types)}{_metadata_types()}"
        f'<EntityContainer Name="System">{"".join(sets)}</EntityContainer>'
        "</Schema></edmx:DataServices></edmx:Edmx>"
    )


def entity_definitions(
    store: Store, base: str, key: str | None, params: dict[str, str]
) -> dict[str, Any]:
    """Answer `EntityDefinitions` or `EntityDefinitions(key)` with $select/$filter/$expand."""
    select = _selected(params.get("$select"), ENTITY_PROPERTIES, ENTITY_TYPE)
    expand = _expansion(params.get("$expand"))
    if key is not None:
        entity = _by_key(store, key)
        body = _entity_body(entity, select, expand)
        return {"@odata.context": f"{base}/$metadata#EntityDefinitions/$entity", **body}
    entities = _all(store)
    if params.get("$filter"):
        known = set(ENTITY_PROPERTIES)
        try:
            keep = parse_filter(params["$filter"], known.__contains__)
        except UnknownProperty as exc:
            raise ODataError(f"{exc} (on type '{ENTITY_TYPE}')") from None
        entities = [e for e in entities if keep(_entity_values(e))]
    values = [_entity_body(e, select, expand) for e in entities]
    return {"@odata.context": f"{base}/$metadata#EntityDefinitions", "value": values}


def attributes_of(entity: Entity, cast: str | None, params: dict[str, str]) -> list[Any]:
    """Return an entity's attribute metadata (of one metadata class with `cast`), $select-ed.

    On a choice class (`PicklistAttributeMetadata`, …) `$expand=OptionSet,GlobalOptionSet`
    adds the choices: a local choice in OptionSet, a global one in GlobalOptionSet.
    """
    attributes = list(entity.attributes)
    values = [_attribute_body(entity, a.metadata()) for a in attributes]
    if cast:
        kept = [i for i, v in enumerate(values) if v["@odata.type"].endswith("." + cast)]
        attributes, values = [attributes[i] for i in kept], [values[i] for i in kept]
    on_type = f"Microsoft.Dynamics.CRM.{cast}" if cast else ATTRIBUTE_TYPE
    for name in _split_top_level(params.get("$expand", "")):
        if name.strip() not in _OPTION_SETS or cast not in _CHOICE_CLASSES:
            raise ODataError(
                f"Could not find a property named '{name.strip()}' on type '{on_type}'."
            )
        for attribute, value in zip(attributes, values, strict=True):
            body = attribute.option_set_metadata(entity.logical_name)
            is_global = attribute.option_set is not None
            wanted = is_global if name.strip() == "GlobalOptionSet" else not is_global
            value[name.strip()] = body if wanted else None
    chosen = params.get("$select")
    if not chosen:
        return values
    # The type's properties, whether or not an attribute of this entity is of it.
    known = ATTRIBUTE_PROPERTIES | {n for v in values for n in v if not n.startswith("@")}
    fields = _selected(chosen, tuple(known), on_type) | set(_OPTION_SETS)
    return [{k: v for k, v in val.items() if k in fields or k.startswith("@")} for val in values]


def record_counts(store: Store, base: str, names: str) -> dict[str, Any]:
    """Answer RetrieveTotalRecordCount(EntityNames=[...]) with each entity's row count."""
    wanted = [n.strip().strip("'") for n in names.split(",") if n.strip()]
    counts = []
    for name in wanted:
        entity = store.entities.get(name)
        if entity is None:
            raise ODataError(f"Could not find entity with logical name '{name}'.", "0x80040217")
        counts.append(len(entity.rows))
    context = f"{base}/$metadata#Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse"
    collection = {"Count": len(wanted), "IsReadOnly": False, "Keys": wanted, "Values": counts}
    return {"@odata.context": context, "EntityRecordCountCollection": collection}


def find_entity(store: Store, key: str) -> Entity:
    """Return the entity a key segment names (LogicalName='x' or a MetadataId)."""
    return _by_key(store, key)


def _all(store: Store) -> list[Entity]:
    return sorted(store.entities.values(), key=lambda e: e.logical_name)


def _by_key(store: Store, key: str) -> Entity:
    named = _BY_NAME.match(key)
    for entity in store.entities.values():
        if (named and entity.logical_name == named.group(1)) or entity.metadata_id == key:
            return entity
    what = f"logical name '{named.group(1)}'" if named else f"MetadataId '{key}'"
    raise ODataError(f"Could not find entity with {what} (EntityDefinitions).")


def _entity_values(entity: Entity) -> dict[str, Any]:
    return {
        "MetadataId": entity.metadata_id,
        "LogicalName": entity.logical_name,
        "SchemaName": entity.logical_name,
        "EntitySetName": entity.entity_set,
        "LogicalCollectionName": entity.entity_set,
        "PrimaryIdAttribute": entity.primary_id,
        "PrimaryNameAttribute": _primary_name(entity),
        "ChangeTrackingEnabled": entity.change_tracking,
        "IsCustomEntity": "_" in entity.logical_name,
        "IsPrivate": False,
    }


def _primary_name(entity: Entity) -> str | None:
    names = [a.logical_name for a in entity.attributes if a.type == "String"]
    return next((n for n in names if n in {"name", "fullname", "subject"}), None)


def _entity_body(entity: Entity, select: set[str], expand: dict[str, str | None]) -> dict[str, Any]:
    values = _entity_values(entity)
    body = {k: v for k, v in values.items() if not select or k in select or k == "MetadataId"}
    if "Attributes" in expand:
        options = dict(p.split("=", 1) for p in (expand["Attributes"] or "").split(";") if p)
        body["Attributes"] = attributes_of(entity, None, options)
    return body


def _attribute_body(entity: Entity, value: dict[str, Any]) -> dict[str, Any]:
    value["IsPrimaryId"] = value["LogicalName"] == entity.primary_id
    value["EntityLogicalName"] = entity.logical_name
    return value


def _selected(text: str | None, known: tuple[str, ...], on_type: str) -> set[str]:
    names = {n.strip() for n in (text or "").split(",") if n.strip()}
    unknown = sorted(names - set(known))
    if unknown:
        raise ODataError(f"Could not find a property named '{unknown[0]}' on type '{on_type}'.")
    return names


def _expansion(text: str | None) -> dict[str, str | None]:
    expanded: dict[str, str | None] = {}
    for part in _split_top_level(text or ""):
        match = _EXPAND.match(part.strip())
        name = match.group(1) if match else part.strip()
        if not match or name != "Attributes":
            raise ODataError(f"Could not find a property named '{name}' on type '{ENTITY_TYPE}'.")
        expanded[name] = match.group(2)
    return expanded


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses ($expand=A($select=x,y),B)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p for p in [*parts, current] if p.strip()]


def _metadata_types() -> str:
    entity_props = "".join(
        f"<Property Name={quoteattr(name)} Type={quoteattr(_metadata_edm(name))} />"
        for name in ENTITY_PROPERTIES
    )
    return (
        f'<EntityType Name="EntityMetadata"><Key><PropertyRef Name="MetadataId" /></Key>'
        f'{entity_props}<NavigationProperty Name="Attributes" '
        f'Type="Collection({ATTRIBUTE_TYPE})" /></EntityType>'
        '<EntityType Name="AttributeMetadata"><Key><PropertyRef Name="MetadataId" /></Key>'
        '<Property Name="MetadataId" Type="Edm.Guid" />'
        '<Property Name="LogicalName" Type="Edm.String" />'
        '<Property Name="AttributeType" Type="Edm.String" /></EntityType>'
    )


def _metadata_edm(name: str) -> str:
    if name == "MetadataId":
        return "Edm.Guid"
    flags = {"ChangeTrackingEnabled", "IsCustomEntity", "IsPrivate"}
    return "Edm.Boolean" if name in flags else "Edm.String"
