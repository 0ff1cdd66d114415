"""Daily health figures from the metadata tables (columnar, with polars)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from bronze_sync.metadata.schemas import CHECKPOINT_HISTORY, DATA_VALIDATION, SYNC_AUDIT_LOG
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.rows.values import frame

SYNC_OPS = ["DataSync", "InitialSync"]
SLOWEST = 5


@dataclass
class DayFigures:
    """One day's headline figures."""

    day: dt.date
    syncs: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    rows_processed: int = 0
    deleted: int = 0
    purged: int = 0
    validations: int = 0
    validations_passed: int = 0

    @property
    def success_rate(self) -> float | None:
        """Return succeeded / (succeeded + failed), or None without syncs."""
        done = self.succeeded + self.failed
        return self.succeeded / done if done else None

    @property
    def validation_pass_rate(self) -> float | None:
        """Return passed / all validations of the day, or None without any."""
        return self.validations_passed / self.validations if self.validations else None


@dataclass
class HealthReport:
    """The health of bronze on one day, with the days before it for trends."""

    day: dt.date
    days: list[DayFigures]
    rows_per_table: dict[str, int] = field(default_factory=dict)
    slowest: list[tuple[str, float]] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    checkpointed: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)

    @property
    def today(self) -> DayFigures:
        """Return the report day's figures."""
        return self.days[-1]

    @property
    def previous(self) -> DayFigures:
        """Return the day before's figures."""
        return self.days[-2]

    @property
    def checkpoint_coverage(self) -> float | None:
        """Return the share of configured tables with a Daily checkpoint on the day."""
        if not self.tables:
            return None
        return len(set(self.checkpointed) & set(self.tables)) / len(self.tables)

    def summary(self) -> dict[str, Any]:
        """Return the headline figures (for metadata and tests)."""
        t = self.today
        return {
            "day": self.day.isoformat(),
            "success_rate": t.success_rate,
            "syncs": t.syncs,
            "failed": t.failed,
            "rows_processed": t.rows_processed,
            "deleted": t.deleted,
            "purged": t.purged,
            "validation_pass_rate": t.validation_pass_rate,
            "checkpoint_coverage": self.checkpoint_coverage,
        }


def _frame(meta: MetadataStore, name: str, columns: list[str]) -> pl.DataFrame:
    return frame(meta.read(name, columns))


def build_report(
    meta: MetadataStore, day: dt.date, tables: list[str], history_days: int = 7
) -> HealthReport:
    """Return the health report of `day` with `history_days` of trend (day included)."""
    first = day - dt.timedelta(days=history_days - 1)
    audit = _frame(
        meta,
        SYNC_AUDIT_LOG,
        ["TableName", "Operation", "Status", "StartTime", "EndTime", "RowsProcessed",
         "RowsDeleted", "RowsPurged", "ErrorMessage", "CreatedDate"],
    ).with_columns(pl.col("CreatedDate").dt.date().alias("day"))  # fmt: skip
    audit = audit.filter(pl.col("day").is_between(first, day))
    validation = _frame(meta, DATA_VALIDATION, ["ValidationDate", "ValidationPassed"])
    validation = validation.with_columns(pl.col("ValidationDate").dt.date().alias("day"))
    days = [_day(first + dt.timedelta(days=i), audit, validation) for i in range(history_days)]
    syncs = audit.filter((pl.col("day") == day) & pl.col("Operation").is_in(SYNC_OPS))
    ok = syncs.filter(pl.col("Status") == "Success")
    per_table = ok.group_by("TableName").agg(pl.col("RowsProcessed").sum()).sort("TableName")
    durations = (
        syncs.with_columns(
            ((pl.col("EndTime") - pl.col("StartTime")).dt.total_milliseconds() / 1000).alias("s")
        )
        .group_by("TableName")
        .agg(pl.col("s").max())
        .sort("s", descending=True)
        .head(SLOWEST)
    )
    failed = syncs.filter(pl.col("Status") == "Failed").unique("TableName", keep="last")
    return HealthReport(
        day=day,
        days=days,
        rows_per_table=dict(zip(per_table["TableName"], per_table["RowsProcessed"], strict=True)),
        slowest=list(zip(durations["TableName"], durations["s"], strict=True)),
        failures=dict(zip(failed["TableName"], failed["ErrorMessage"].fill_null(""), strict=True)),
        checkpointed=_checkpointed(meta, day),
        tables=tables,
    )


def _day(day: dt.date, audit: pl.DataFrame, validation: pl.DataFrame) -> DayFigures:
    mine = audit.filter(pl.col("day") == day)
    syncs = mine.filter(pl.col("Operation").is_in(SYNC_OPS))
    status = syncs["Status"]
    ok = syncs.filter(pl.col("Status") == "Success")
    detect = mine.filter(
        (pl.col("Operation") == "DeleteDetection") & (pl.col("Status") == "Success")
    )
    checks = validation.filter(pl.col("day") == day)["ValidationPassed"].fill_null(False)
    return DayFigures(
        day=day,
        syncs=syncs.height,
        succeeded=int((status == "Success").sum()),
        failed=int((status == "Failed").sum()),
        skipped=int((status == "Skipped").sum()),
        rows_processed=int(ok["RowsProcessed"].sum() or 0),
        deleted=int(detect["RowsDeleted"].sum() or 0),
        purged=int(detect["RowsPurged"].sum() or 0),
        validations=checks.len(),
        validations_passed=int(checks.sum()),
    )


def _checkpointed(meta: MetadataStore, day: dt.date) -> list[str]:
    data = _frame(meta, CHECKPOINT_HISTORY, ["CheckpointType", "CreatedDate", "TableVersions"])
    daily = data.filter(
        (pl.col("CheckpointType") == "Daily") & (pl.col("CreatedDate").dt.date() == day)
    )
    # Daily checkpoints hold one table each: a few small JSON objects per day.
    names = {name for text in daily["TableVersions"].drop_nulls() for name in json.loads(text)}
    return sorted(names)
