"""Which values the runs of a partitioned table cover: discovery, chosen keys, CLI ranges.

Orchestrators (the Dagster sensor and asset, the command line) name partition values by
their text (`value_key`); this module turns those texts into typed values and back, and
finds what the source and bronze hold. It decides nothing the engine decides: a run always
hands the engine the exact values it was asked to (re)load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deltalake import DeltaTable

from bronze_sync.bronze.data_files import held_values
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import ConfigError
from bronze_sync.sources.base import Source
from bronze_sync.sync.partitioned import (
    check_partition_field,
    new_values,
    parse_value,
    value_key,
    values_in_range,
)

NOTHING_WRITTEN = " (nothing was written)"


@dataclass(frozen=True)
class ValueDiscovery:
    """The partition values of one table as keys: all known ones and the ones to load now."""

    table: str
    keys: list[str]  # every value the source or bronze holds, ascending
    new_keys: list[str]  # what a daily sync loads now (above bronze's highest; first: newest N)


def open_bronze(store: BronzeStore, table: TableConfig) -> DeltaTable | None:
    """Return the table's bronze Delta table, or None before its first sync."""
    return store.open(store.table_uri(table.name))


def bronze_values(store: BronzeStore, table: TableConfig) -> list[Any]:
    """Return the partition values bronze holds for `table`, ascending (none before a sync)."""
    uri = store.table_uri(table.name)
    delta = store.open(uri)
    if delta is None:
        return []
    with store.reading(uri):
        return held_values(delta, table.partition_column or "")


def discover_values(source: Source, store: BronzeStore, table: TableConfig) -> ValueDiscovery:
    """Return the values the source or bronze holds and those a daily sync loads now."""
    delta = open_bronze(store, table)
    held = held_values(delta, table.partition_column or "") if delta is not None else []
    known = sorted({*source.partition_values(table), *held})
    fresh = new_values(source, table, delta)
    return ValueDiscovery(table.name, [value_key(v) for v in known], [value_key(v) for v in fresh])


def requested_values(
    source: Source, store: BronzeStore, table: TableConfig, keys: Sequence[str]
) -> tuple[Any, ...]:
    """Return the typed values that partition keys name, ascending; ConfigError if invalid."""
    field = check_partition_field(table, source.describe(table))
    values = tuple(sorted({parse_value(k, field, table.name) for k in keys}))
    if not values:
        raise ConfigError("no partition value was chosen" + NOTHING_WRITTEN, table=table.name)
    return values


def split_range(text: str, table: str) -> tuple[str, str]:
    """Return FROM and TO of a `FROM:TO` range (a single value V means V:V)."""
    parts = [p.strip() for p in text.split(":")]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not all(parts):
        raise ConfigError(
            f"partition range {text!r} is not FROM:TO (e.g. 20260101:20260131)" + NOTHING_WRITTEN,
            table=table,
        )
    return parts[0], parts[1]


def range_values(source: Source, store: BronzeStore, table: TableConfig, text: str) -> list[Any]:
    """Return every value FROM..TO the source or bronze holds; ConfigError when none or bad."""
    low, high = split_range(text, table.name)
    field = check_partition_field(table, source.describe(table))
    return values_in_range(source, table, open_bronze(store, table), field, low, high)


def without_suffix(message: str) -> str:
    """Return an error message without its trailing `(nothing was written)`."""
    return message.removesuffix(NOTHING_WRITTEN)
