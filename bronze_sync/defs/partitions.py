"""The one partitions definition every bronze asset shares: a sync batch per UTC day."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from bronze_sync.errors import ConfigError

SYNC_BATCHES = "sync_batches"
sync_batches = dg.DynamicPartitionsDefinition(name=SYNC_BATCHES)


def check_partition_key(key: str) -> str:
    """Return `key` if it is a UTC date YYYY-MM-DD, else raise ConfigError."""
    try:
        dt.date.fromisoformat(key)
    except ValueError:
        raise ConfigError(f"partition key {key!r} is not a date YYYY-MM-DD") from None
    if len(key) != 10:
        raise ConfigError(f"partition key {key!r} is not a date YYYY-MM-DD")
    return key


def ensure_partition(instance: dg.DagsterInstance, key: str) -> None:
    """Register sync batch `key` with the instance if it is new."""
    check_partition_key(key)
    if not instance.has_dynamic_partition(SYNC_BATCHES, key):
        instance.add_dynamic_partitions(SYNC_BATCHES, [key])
