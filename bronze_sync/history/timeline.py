"""One row's timeline: every version that changed it, newest first, with old → new values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.errors import ConfigError, HistoryError
from bronze_sync.history.columns import (
    BRONZE_VERSION,
    CHANGED_AT,
    CHANGED_COLUMNS,
    HISTORY_COLUMNS,
    OPERATION,
    PARTITION_KEY,
    ROW_REMOVED,
    RUN_ID,
    history_uri,
)
from bronze_sync.history.feed import NoHistoryError


class KeyNotFoundError(HistoryError):
    """The history of a table holds no row with the given key."""


@dataclass
class ColumnChange:
    """One column's value before and after a change (before None: unknown or new row)."""

    column: str
    old: Any
    new: Any


@dataclass
class TimelineEntry:
    """One version of one row."""

    version: int
    changed_at: dt.datetime
    run_id: str | None
    partition_key: str | None
    operation: str
    removed: bool
    changes: list[ColumnChange] = field(default_factory=list)
    image: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """Return the entry as JSON-ready values."""
        return {
            "version": self.version,
            "changed_at": self.changed_at.isoformat(),
            "run_id": self.run_id,
            "partition_key": self.partition_key,
            "operation": self.operation,
            "removed": self.removed,
            "changes": [
                {"column": c.column, "old": _plain(c.old), "new": _plain(c.new)}
                for c in self.changes
            ],
        }


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def key_filter(schema: pa.Schema, key: Mapping[str, str], keys: list[str], table: str) -> Any:
    """Return the dataset filter of one key given as text (cast to the key columns' types)."""
    missing = [k for k in keys if k not in key]
    unknown = [k for k in key if k not in keys]
    if missing or unknown:
        raise ConfigError(
            f"table {table} has key column(s) {', '.join(keys)}; "
            f"got {', '.join(key) or 'none'} (give --key col=value for each)"
        )
    condition = None
    for name in keys:
        target = schema.field(name).type
        try:
            value = pc.cast(pa.scalar(key[name]), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise ConfigError(
                f"key value {key[name]!r} is not a valid {target} for column {name} of {table}"
            ) from None
        term = pc.field(name) == value
        condition = term if condition is None else condition & term
    return condition


def row_timeline(
    store: BronzeStore, table: str, keys: list[str], key: Mapping[str, str]
) -> list[TimelineEntry]:
    """Return every history entry of one row, newest first."""
    delta = store.open(history_uri(store, table))
    if delta is None:
        raise NoHistoryError(f"table {table} has no history yet")
    dataset = delta.to_pyarrow_dataset()
    rows = dataset.to_table(filter=key_filter(dataset.schema, key, keys, table))
    if rows.num_rows == 0:
        shown = ", ".join(f"{k}={v}" for k, v in key.items())
        raise KeyNotFoundError(f"no row with {shown} was ever in bronze table {table}")
    ordered = rows.sort_by(BRONZE_VERSION).to_pylist()
    entries, previous = [], None
    for row in ordered:
        entries.append(_entry(row, previous))
        previous = row
    return entries[::-1]


def _entry(row: dict[str, Any], previous: dict[str, Any] | None) -> TimelineEntry:
    image = {k: v for k, v in row.items() if k not in HISTORY_COLUMNS}
    changes = []
    for column in row[CHANGED_COLUMNS] or []:
        old = previous.get(column) if previous is not None else None
        changes.append(ColumnChange(column, old, row.get(column)))
    return TimelineEntry(
        version=row[BRONZE_VERSION],
        changed_at=row[CHANGED_AT],
        run_id=row[RUN_ID],
        partition_key=row[PARTITION_KEY],
        operation=row[OPERATION],
        removed=bool(row[ROW_REMOVED]),
        changes=changes,
        image=image,
    )
