"""Delta retention properties of bronze tables: set at creation, verified and repaired each run.

`delta.logRetentionDuration` decides how long old log entries (and so old versions) survive
log cleanup; `delta.deletedFileRetentionDuration` how long removed data files survive
VACUUM. A checkpoint is only restorable while both still cover its version, so the log
retention defaults to 400 days: PrePurge and Monthly checkpoints (365 days) stay restorable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from bronze_sync.bronze.commit import commit_properties
from bronze_sync.config.models import TableSettings
from bronze_sync.errors import BronzeError

LOG_RETENTION = "delta.logRetentionDuration"
DELETED_FILE_RETENTION = "delta.deletedFileRetentionDuration"


def interval(days: int) -> str:
    """Return a Delta interval property value (the syntax Spark and delta-rs read)."""
    return f"interval {days} days"


def retention_properties(table: TableSettings) -> dict[str, str]:
    """Return the retention properties a bronze table must carry."""
    return {
        LOG_RETENTION: interval(table.log_retention_days),
        DELETED_FILE_RETENTION: interval(table.deleted_file_retention_days),
    }


def property_drift(delta: DeltaTable, table: TableSettings) -> dict[str, tuple[str | None, str]]:
    """Return {property: (current, wanted)} for each retention property not as configured."""
    current = delta.metadata().configuration or {}
    return {
        name: (current.get(name), wanted)
        for name, wanted in retention_properties(table).items()
        if current.get(name) != wanted
    }


def ensure_retention_properties(
    delta: DeltaTable, table: TableSettings, metadata: Mapping[str, Any] | None = None
) -> list[str]:
    """Set drifted retention properties (one metadata-only commit); return what was repaired."""
    drift = property_drift(delta, table)
    if not drift:
        return []
    try:
        delta.alter.set_table_properties(
            {name: wanted for name, (_, wanted) in drift.items()},
            commit_properties=commit_properties(metadata or {}),
        )
    except DeltaError as exc:
        raise BronzeError(f"cannot set retention properties on {delta.table_uri}: {exc}") from None
    return [f"{name}: {old or 'unset'} -> {new}" for name, (old, new) in sorted(drift.items())]


def retention_days(value: str | None) -> float | None:
    """Return the days an `interval N unit` property value spans, or None if unreadable."""
    if not value:
        return None
    parts = value.lower().split()
    if len(parts) != 3 or parts[0] != "interval":
        return None
    try:
        amount = float(parts[1])
    except ValueError:
        return None
    per_day = {"week": 7.0, "day": 1.0, "hour": 1 / 24, "minute": 1 / 1440, "second": 1 / 86400}
    unit = parts[2].removesuffix("s")
    return amount * per_day[unit] if unit in per_day else None
