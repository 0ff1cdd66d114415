"""The Delta protocol bronze writes, and whether Microsoft Fabric can read a table.

Bronze tables are written with the plainest Delta protocol: minReaderVersion 1,
minWriterVersion 2, no table features, timestamps with a time zone (UTC), no deletion
vectors and no column mapping (docs/configuration.md, "Fabric-readable tables"). A Fabric
SQL analytics endpoint and Direct Lake read that. A table "gains" a feature Fabric cannot
read when another writer (Spark, a newer delta-rs, a hand-set table property) turns it on;
`fabric_problems` names each such feature. No dagster import: the `fabric_readable` check
(validation/fabric.py) wires it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from deltalake import DeltaTable

BRONZE_READER_VERSION = 1
BRONZE_WRITER_VERSION = 2
# The highest reader version whose tables Fabric reads (3: table features, none of them
# listed below).
FABRIC_MAX_READER_VERSION = 3
# Table features whose tables a Fabric reader cannot (or cannot reliably) read.
FABRIC_UNREADABLE_FEATURES = frozenset(
    {
        "deletionVectors",
        "columnMapping",
        "timestampNtz",
        "v2Checkpoint",
        "variantType",
        "variantType-preview",
        "typeWidening",
        "typeWidening-preview",
        "vacuumProtocolCheck",
    }
)
# Reader features Fabric reads; bronze needs none, so any other reader feature is named.
FABRIC_READABLE_READER_FEATURES: frozenset[str] = frozenset()
DELETION_VECTORS = "delta.enableDeletionVectors"
COLUMN_MAPPING = "delta.columnMapping.mode"
CHECKPOINT_POLICY = "delta.checkpointPolicy"
TIMESTAMP_NTZ = "timestamp_ntz"


@dataclass(frozen=True)
class ProtocolReport:
    """A Delta table's protocol and features, and what in them Fabric cannot read."""

    reader_version: int
    writer_version: int
    reader_features: tuple[str, ...]
    writer_features: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def fabric_readable(self) -> bool:
        """Return True when nothing in the table stops a Fabric reader."""
        return not self.problems

    def figures(self) -> dict[str, Any]:
        """Return the report as figures for a check result."""
        return {
            "min_reader_version": self.reader_version,
            "min_writer_version": self.writer_version,
            "reader_features": ", ".join(self.reader_features) or "none",
            "writer_features": ", ".join(self.writer_features) or "none",
        }


def protocol_report(delta: DeltaTable) -> ProtocolReport:
    """Return the table's protocol and every feature or setting Fabric cannot read."""
    protocol = delta.protocol()
    metadata = delta.metadata()
    readers = tuple(protocol.reader_features or ())
    writers = tuple(protocol.writer_features or ())
    schema = json.loads(delta.schema().to_json())
    problems = fabric_problems(
        protocol.min_reader_version,
        readers,
        writers,
        metadata.configuration or {},
        schema,
    )
    return ProtocolReport(
        protocol.min_reader_version,
        protocol.min_writer_version,
        readers,
        writers,
        tuple(problems),
    )


def fabric_problems(
    reader_version: int,
    reader_features: tuple[str, ...],
    writer_features: tuple[str, ...],
    configuration: Mapping[str, str | None],
    schema: Mapping[str, Any],
) -> list[str]:
    """Return one line per thing in a table's protocol, properties or schema Fabric cannot read."""
    problems: list[str] = []
    if reader_version > FABRIC_MAX_READER_VERSION:
        problems.append(
            f"minReaderVersion {reader_version} (Fabric reads up to {FABRIC_MAX_READER_VERSION})"
        )
    features = dict.fromkeys([*reader_features, *writer_features])
    for feature in features:
        if feature in FABRIC_UNREADABLE_FEATURES:
            problems.append(f"table feature {feature}")
        elif feature in reader_features and feature not in FABRIC_READABLE_READER_FEATURES:
            problems.append(f"reader feature {feature} (not known to be readable by Fabric)")
    named = " ".join(problems)
    if _is_true(configuration.get(DELETION_VECTORS)) and "deletionVectors" not in named:
        problems.append(f"deletion vectors enabled ({DELETION_VECTORS})")
    mode = (configuration.get(COLUMN_MAPPING) or "none").lower()
    if mode != "none" and "columnMapping" not in named:
        problems.append(f"column mapping mode {mode} ({COLUMN_MAPPING})")
    if (configuration.get(CHECKPOINT_POLICY) or "").lower() == "v2" and "v2Checkpoint" not in named:
        problems.append(f"v2 checkpoints ({CHECKPOINT_POLICY} = v2)")
    naive = [name for name, kind in _column_types(schema) if kind == TIMESTAMP_NTZ]
    if naive:
        problems.append(
            f"timestamp_ntz column(s) {', '.join(naive)} (bronze writes timestamps with time zone)"
        )
    return problems


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _column_types(node: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Yield (column path, primitive type) of every field of a Delta schema, nested ones too."""
    for field in node.get("fields", []):
        path = f"{prefix}{field['name']}"
        yield from _types_of(field["type"], path)


def _types_of(kind: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(kind, str):
        yield path, kind
        return
    if not isinstance(kind, Mapping):
        return
    if kind.get("type") == "struct":
        yield from _column_types(kind, f"{path}.")
    elif kind.get("type") == "array":
        yield from _types_of(kind.get("elementType"), f"{path}[]")
    elif kind.get("type") == "map":
        yield from _types_of(kind.get("keyType"), f"{path}{{key}}")
        yield from _types_of(kind.get("valueType"), f"{path}{{value}}")
