"""Which DailyBatch checkpoints are kept longer: the first of each ISO week and of each month.

A promoted batch is copied as a `Weekly` (28 days) or `Monthly` (365 days) checkpoint pinning
the same versions; the DailyBatch itself keeps its 7 days. "First" means the earliest sync
batch day of the period seen so far: a backfill of an earlier day, or a re-run of the promoted
day, replaces the copy (the older copy is superseded, not deleted).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bronze_sync.checkpoints.model import Checkpoint, CheckpointType

BATCH_PREFIX = "bronze_batch_"
PROMOTED_FROM = "promoted from "
_SOURCE = re.compile(r"promoted from " + BATCH_PREFIX + r"(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True)
class Promotion:
    """A checkpoint to create as a copy of a DailyBatch checkpoint."""

    name: str
    type: CheckpointType


def weekly_name(day: dt.date) -> str:
    """Return the Weekly checkpoint name of the ISO week holding `day`."""
    year, week, _ = day.isocalendar()
    return f"bronze_weekly_{year}-W{week:02d}"


def monthly_name(day: dt.date) -> str:
    """Return the Monthly checkpoint name of the month holding `day`."""
    return f"bronze_monthly_{day:%Y-%m}"


def batch_day(batch: Checkpoint) -> dt.date:
    """Return the sync batch day of a DailyBatch checkpoint (its creation day if unnamed)."""
    try:
        return dt.date.fromisoformat(batch.name.removeprefix(BATCH_PREFIX))
    except ValueError:
        return batch.created.astimezone(dt.UTC).date()


def promoted_day(copy: Checkpoint) -> dt.date | None:
    """Return the batch day a Weekly/Monthly checkpoint was copied from, if it says."""
    match = _SOURCE.search(copy.notes or "")
    return dt.date.fromisoformat(match.group(1)) if match else None


def promotions(batch: Checkpoint, existing: list[Checkpoint]) -> list[Promotion]:
    """Return the Weekly/Monthly copies `batch` should become, given the active checkpoints."""
    if batch.type != CheckpointType.DAILY_BATCH or not batch.is_active:
        return []
    day = batch_day(batch)
    wanted = [
        Promotion(weekly_name(day), CheckpointType.WEEKLY),
        Promotion(monthly_name(day), CheckpointType.MONTHLY),
    ]
    out = []
    for promotion in wanted:
        current = next(
            (
                c
                for c in existing
                if c.is_active and c.name == promotion.name and c.type == promotion.type
            ),
            None,
        )
        if current is None or _replaces(batch, day, current):
            out.append(promotion)
    return out


def _replaces(batch: Checkpoint, day: dt.date, current: Checkpoint) -> bool:
    source = promoted_day(current)
    if source is None:
        return False  # not made by promotion: leave it alone
    if day < source:
        return True
    return day == source and current.table_versions != batch.table_versions
