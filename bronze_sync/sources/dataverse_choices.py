"""Dataverse choice labels and lookup targets, as the tables Link to Fabric writes beside data.

Link to Fabric (and Synapse Link) export `OptionsetMetadata`, `GlobalOptionsetMetadata`,
`StateMetadata`, `StatusMetadata` and `TargetMetadata`; Power BI models join bronze's
integer choice columns to them for labels. This module reads an entity's choice and lookup
metadata from EntityDefinitions and returns those tables' rows for that entity, with the
same table and column names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from bronze_sync.sources.dataverse_http import DataverseHttp

OPTIONSET = "OptionsetMetadata"
GLOBAL_OPTIONSET = "GlobalOptionsetMetadata"
STATE = "StateMetadata"
STATUS = "StatusMetadata"
TARGET = "TargetMetadata"
_LABEL = [
    ("IsUserLocalizedLabel", pa.bool_()),
    ("LocalizedLabelLanguageCode", pa.int64()),
    ("LocalizedLabel", pa.string()),
]
_S, _I = pa.string(), pa.int64()
CHOICE_SCHEMAS: dict[str, pa.Schema] = {
    OPTIONSET: pa.schema([("EntityName", _S), ("OptionSetName", _S), ("Option", _I), *_LABEL]),
    GLOBAL_OPTIONSET: pa.schema(
        [
            ("OptionSetName", _S),
            ("Option", _I),
            *_LABEL,
            ("GlobalOptionSetName", _S),
            ("EntityName", _S),
        ]
    ),
    STATE: pa.schema([("EntityName", _S), ("State", _I), *_LABEL]),
    STATUS: pa.schema([("EntityName", _S), ("State", _I), ("Status", _I), *_LABEL]),
    TARGET: pa.schema(
        [
            ("EntityName", _S),
            ("AttributeName", _S),
            ("ReferencedEntity", _S),
            ("ReferencedAttribute", _S),
        ]
    ),
}
_CHOICE_CLASSES = ("PicklistAttributeMetadata", "MultiSelectPicklistAttributeMetadata")


def choice_tables(http: DataverseHttp, entity: str) -> dict[str, pa.Table]:
    """Return the five Link to Fabric metadata tables' rows describing `entity`."""
    base = f"EntityDefinitions(LogicalName='{entity.replace(chr(39), chr(39) * 2)}')/Attributes"
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in CHOICE_SCHEMAS}
    for cast in _CHOICE_CLASSES:
        query = "$select=LogicalName&$expand=OptionSet,GlobalOptionSet"
        for attribute in _values(http, f"{base}/Microsoft.Dynamics.CRM.{cast}?{query}", entity):
            rows[OPTIONSET] += _local_rows(entity, attribute)
            rows[GLOBAL_OPTIONSET] += _global_rows(entity, attribute)
    for cast, name in (("StateAttributeMetadata", STATE), ("StatusAttributeMetadata", STATUS)):
        query = "$select=LogicalName&$expand=OptionSet"
        for attribute in _values(http, f"{base}/Microsoft.Dynamics.CRM.{cast}?{query}", entity):
            for option, label in _labels(attribute.get("OptionSet")):
                row = {"EntityName": entity, **label}
                if name == STATE:
                    rows[STATE].append({**row, "State": option["Value"]})
                else:
                    rows[STATUS].append(
                        {**row, "State": option.get("State"), "Status": option["Value"]}
                    )
    rows[TARGET] = _target_rows(http, base, entity)
    return {
        name: pa.Table.from_pylist(found, schema=CHOICE_SCHEMAS[name])
        for name, found in rows.items()
    }


def _values(http: DataverseHttp, path: str, entity: str) -> list[dict[str, Any]]:
    body, _ = http.get(path, entity)
    values: list[dict[str, Any]] = body.get("value", [])
    return values


def _local_rows(entity: str, attribute: dict[str, Any]) -> list[dict[str, Any]]:
    name = attribute["LogicalName"]
    return [
        {"EntityName": entity, "OptionSetName": name, "Option": option["Value"], **label}
        for option, label in _labels(attribute.get("OptionSet"))
    ]


def _global_rows(entity: str, attribute: dict[str, Any]) -> list[dict[str, Any]]:
    option_set = attribute.get("GlobalOptionSet")
    if not option_set:
        return []
    return [
        {
            "OptionSetName": attribute["LogicalName"],
            "Option": option["Value"],
            **label,
            "GlobalOptionSetName": option_set.get("Name"),
            "EntityName": entity,
        }
        for option, label in _labels(option_set)
    ]


def _labels(option_set: dict[str, Any] | None) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield (option, label columns) for every localized label of every option."""
    for option in (option_set or {}).get("Options", []):
        labels = option.get("Label") or {}
        user = (labels.get("UserLocalizedLabel") or {}).get("LanguageCode")
        for label in labels.get("LocalizedLabels", []):
            yield (
                option,
                {
                    "IsUserLocalizedLabel": label.get("LanguageCode") == user,
                    "LocalizedLabelLanguageCode": label.get("LanguageCode"),
                    "LocalizedLabel": label.get("Label"),
                },
            )


def _target_rows(http: DataverseHttp, base: str, entity: str) -> list[dict[str, Any]]:
    path = f"{base}/Microsoft.Dynamics.CRM.LookupAttributeMetadata?$select=LogicalName,Targets"
    lookups = [(a["LogicalName"], a.get("Targets") or []) for a in _values(http, path, entity)]
    targets = sorted({t for _, found in lookups for t in found})
    primary = _primary_ids(http, targets, entity) if targets else {}
    return [
        {
            "EntityName": entity,
            "AttributeName": name,
            "ReferencedEntity": target,
            "ReferencedAttribute": primary.get(target),
        }
        for name, found in lookups
        for target in found
    ]


def _primary_ids(http: DataverseHttp, targets: list[str], entity: str) -> dict[str, str]:
    quoted = " or ".join(f"LogicalName eq '{t.replace(chr(39), chr(39) * 2)}'" for t in targets)
    path = f"EntityDefinitions?$select=LogicalName,PrimaryIdAttribute&$filter={quoted}"
    return {e["LogicalName"]: e["PrimaryIdAttribute"] for e in _values(http, path, entity)}
