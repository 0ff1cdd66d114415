"""The first DailyBatch of each ISO week / month is copied as a Weekly / Monthly checkpoint."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import (
    CheckpointType,
    create_batch_checkpoint,
    create_checkpoint,
    daily_name,
    list_checkpoints,
)
from bronze_sync.checkpoints.promotion import monthly_name, promoted_day, weekly_name
from bronze_sync.metadata import MetadataStore

pytestmark = pytest.mark.slow  # Dagster runs or many syncs: see conftest.SLOW_FOLDERS


def day_range(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


class Bronze:
    """One bronze table written each simulated day, with the sync's Daily + DailyBatch checkpoints."""

    def __init__(self, tmp_path):
        self.store = BronzeStore(str(tmp_path))
        self.meta = MetadataStore(self.store)
        self.uri = self.store.table_uri("a")

    def batch(self, day: dt.date, hour: int = 6):
        write_deltalake(self.uri, pa.table({"id": [day.toordinal()]}), mode="append")
        version = DeltaTable(self.uri).version()
        now = dt.datetime(day.year, day.month, day.day, hour, 30, tzinfo=dt.UTC)
        key = day.isoformat()
        create_checkpoint(
            self.meta, daily_name(key, "a"), CheckpointType.DAILY, {"a": version}, now, "t"
        )
        return create_batch_checkpoint(self.meta, key, now, "t")

    def copies(self, kind):
        return {c.name: c for c in list_checkpoints(self.meta, kind=kind)}


def test_names_follow_iso_weeks_and_months():
    assert weekly_name(dt.date(2026, 1, 1)) == "bronze_weekly_2026-W01"
    assert weekly_name(dt.date(2027, 1, 1)) == "bronze_weekly_2026-W53"  # ISO year, not calendar
    assert monthly_name(dt.date(2026, 3, 31)) == "bronze_monthly_2026-03"


def test_a_simulated_month_of_daily_batches(tmp_path):
    bronze = Bronze(tmp_path)
    batches = {
        day: bronze.batch(day) for day in day_range(dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    }

    weekly = bronze.copies(CheckpointType.WEEKLY)
    firsts = {  # 2026-03-01 is a Sunday: the last day of ISO week 9
        "bronze_weekly_2026-W09": dt.date(2026, 3, 1),
        "bronze_weekly_2026-W10": dt.date(2026, 3, 2),
        "bronze_weekly_2026-W11": dt.date(2026, 3, 9),
        "bronze_weekly_2026-W12": dt.date(2026, 3, 16),
        "bronze_weekly_2026-W13": dt.date(2026, 3, 23),
        "bronze_weekly_2026-W14": dt.date(2026, 3, 30),
    }
    assert {name: promoted_day(c) for name, c in weekly.items()} == firsts
    for name, day in firsts.items():
        assert weekly[name].table_versions == batches[day].table_versions
        assert weekly[name].created == batches[day].created
        assert weekly[name].retention_date == day + dt.timedelta(days=28)
    monthly = bronze.copies(CheckpointType.MONTHLY)
    assert {name: promoted_day(c) for name, c in monthly.items()} == {
        "bronze_monthly_2026-03": dt.date(2026, 3, 1),
        "bronze_monthly_2026-04": dt.date(2026, 4, 1),
    }
    assert monthly["bronze_monthly_2026-04"].retention_date == dt.date(2027, 4, 1)
    assert len(bronze.copies(CheckpointType.DAILY_BATCH)) == 32  # batches keep their 7 days
    assert all(b.retention_date == d + dt.timedelta(days=7) for d, b in batches.items())


def test_backfill_of_an_earlier_day_and_rerun_of_the_promoted_day_replace_the_copy(tmp_path):
    bronze = Bronze(tmp_path)
    for day in day_range(dt.date(2026, 3, 1), dt.date(2026, 3, 3)):
        bronze.batch(day)
    backfilled = bronze.batch(dt.date(2026, 2, 27))  # Friday of ISO week 9, in February
    assert promoted_day(bronze.copies(CheckpointType.WEEKLY)["bronze_weekly_2026-W09"]) == dt.date(
        2026, 2, 27
    )
    assert (
        bronze.copies(CheckpointType.MONTHLY)["bronze_monthly_2026-02"].table_versions
        == backfilled.table_versions
    )
    assert promoted_day(bronze.copies(CheckpointType.MONTHLY)["bronze_monthly_2026-03"]) == dt.date(
        2026, 3, 1
    )

    rerun = bronze.batch(dt.date(2026, 3, 2), hour=9)  # re-run of the batch W10 was copied from
    assert (
        bronze.copies(CheckpointType.WEEKLY)["bronze_weekly_2026-W10"].table_versions
        == rerun.table_versions
    )
    w10 = bronze.copies(CheckpointType.WEEKLY)["bronze_weekly_2026-W10"]
    bronze.batch(dt.date(2026, 3, 3), hour=9)  # a later day of the week changes nothing
    assert (
        bronze.copies(CheckpointType.WEEKLY)["bronze_weekly_2026-W10"].checkpoint_id
        == w10.checkpoint_id
    )

    history = [
        c
        for c in list_checkpoints(bronze.meta, include_inactive=True, kind=CheckpointType.WEEKLY)
        if c.name in ("bronze_weekly_2026-W09", "bronze_weekly_2026-W10")
    ]
    assert sorted((c.name, c.is_active) for c in history) == [
        ("bronze_weekly_2026-W09", False),
        ("bronze_weekly_2026-W09", True),
        ("bronze_weekly_2026-W10", False),
        ("bronze_weekly_2026-W10", True),
    ]


def test_recording_the_same_batch_twice_promotes_once(tmp_path):
    bronze = Bronze(tmp_path)
    first = bronze.batch(dt.date(2026, 3, 2))
    again = create_batch_checkpoint(bronze.meta, "2026-03-02", first.created, "sensor")
    assert again.checkpoint_id == first.checkpoint_id
    weekly = list_checkpoints(bronze.meta, include_inactive=True, kind=CheckpointType.WEEKLY)
    assert len(weekly) == 1
