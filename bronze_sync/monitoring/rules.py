"""Monitoring rules (the Fabric design's phase-2 alerts) evaluated from the metadata tables.

Each rule looks at one table (or at maintenance as a whole) and either fires, holds, or has
too little history to say. Thresholds and severities come from `alerts.rules` with per-table
overrides (config.alerts.RULES holds the defaults).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import polars as pl

from bronze_sync.bronze.properties import DELETED_FILE_RETENTION, retention_days
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints.repair import FAILED as CHECKPOINT_FAILED
from bronze_sync.config.models import Config, TableConfig
from bronze_sync.metadata.schemas import CHECKPOINT_HISTORY, DATA_VALIDATION, SYNC_AUDIT_LOG
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.rows.values import frame

SYNC_OPS = ["DataSync", "InitialSync"]
SYNC_CONTEXT = "DailySync"  # DataValidation rows a sync writes
MAINTENANCE_JOB = "weekly_maintenance"
WEEK = dt.timedelta(days=7)
MIN_HISTORY = 3  # syncs before the 7-day median means anything


@dataclass(frozen=True)
class Finding:
    """One rule on one table: firing or not, the measured value and the threshold."""

    rule: str
    table: str | None
    firing: bool
    value: float
    threshold: float
    severity: str
    message: str

    @property
    def key(self) -> str:
        """Return the rule-and-table key its firing and resolution are tracked under."""
        return f"{self.rule}:{self.table or '*'}"


@dataclass(frozen=True)
class CheckpointSeen:
    """One checkpoint as the rules read it: when, its verdict, the tables it pins."""

    created: dt.datetime
    status: str | None
    tables: frozenset[str]


@dataclass
class RuleInputs:
    """The metadata the rules read, gathered once per evaluation."""

    audit: pl.DataFrame
    validation: pl.DataFrame
    checkpoints: list[CheckpointSeen]
    file_retention_hours: dict[str, float] = field(default_factory=dict)
    running_maintenance: dict[str, dt.datetime] = field(default_factory=dict)  # run -> start


def gather(
    meta: MetadataStore,
    store: BronzeStore,
    config: Config,
    running_maintenance: Mapping[str, dt.datetime] | None = None,
) -> RuleInputs:
    """Read what the rules need: audit, validation, checkpoints, tables' retention."""
    audit = frame(
        meta.read(
            SYNC_AUDIT_LOG,
            ["PipelineRunId", "PipelineName", "TableName", "Operation", "Status", "StartTime",
             "EndTime", "CreatedDate"],
        )
    )  # fmt: skip
    validation = frame(
        meta.read(
            DATA_VALIDATION,
            ["TableName", "ValidationDate", "BronzeRowCount", "ActiveRowCount",
             "DeletedRowCount", "PurgedRowCount", "ValidationContext"],
        )
    )  # fmt: skip
    history = meta.read(CHECKPOINT_HISTORY, ["CreatedDate", "ValidationStatus", "TableVersions"])
    # Each checkpoint's TableVersions JSON is parsed once, not once per table and rule.
    checkpoints = [
        CheckpointSeen(row["CreatedDate"], row["ValidationStatus"], frozenset(json.loads(pinned)))
        for row in history.to_pylist()
        if (pinned := row["TableVersions"])
    ]
    retention = {}
    for table in config.enabled_tables():
        delta = store.open(store.table_uri(table.name))
        if delta is not None:
            days = retention_days(
                (delta.metadata().configuration or {}).get(DELETED_FILE_RETENTION)
            )
            retention[table.name] = 24 * (days if days is not None else 7.0)  # Delta's default
    return RuleInputs(audit, validation, checkpoints, retention, dict(running_maintenance or {}))


def evaluate_rules(config: Config, inputs: RuleInputs, now: dt.datetime) -> list[Finding]:
    """Return every enabled rule's finding, per table (those with enough history)."""
    rules = config.alerts.rules
    found: list[Finding] = []
    for table in config.enabled_tables():
        for name, rule in TABLE_RULES.items():
            enabled, threshold, severity = rules.for_table(name, table.name)
            if not enabled:
                continue
            measured = rule(inputs, table, now)
            if measured is not None:
                value, firing, what = _verdict(name, measured, threshold, table)
                found.append(Finding(name, table.name, firing, value, threshold, severity, what))
    enabled, threshold, severity = rules.for_table("maintenance_duration", None)
    hours = _maintenance_hours(inputs, now)
    if enabled and hours is not None:
        firing = hours > threshold
        what = f"the longest maintenance run of the last 7 days took {hours:.1f} h"
        found.append(
            Finding("maintenance_duration", None, firing, hours, threshold, severity, what)
        )
    return found


def _verdict(
    name: str, value: float, threshold: float, table: TableConfig
) -> tuple[float, bool, str]:
    """Return (value, firing, message) of a table rule's measured value."""
    if name == "vacuum_retention":
        hours = table.vacuum_retention_hours
        return (
            value,
            hours < value,
            f"VACUUM keeps removed files {hours} h; the table's deletedFileRetentionDuration "
            f"is {value:.0f} h",
        )
    words = {
        "slow_sync": f"the last sync took {value:.0%} longer than its 7-day median",
        "record_count_deviation": f"active rows moved by {value:.1%} since the sync before",
        "deleted_ratio": f"{value:.1%} of the rows are flagged IsDeleted",
        "purged_ratio": f"{value:.1%} of the rows are flagged IsPurged",
        "checkpoint_failure_rate": f"{value:.1%} of its checkpoints failed in 7 days",
        "checkpoint_missing": f"no checkpoint for {value:.1f} h",
    }
    return value, value > threshold, words[name]


def _slow_sync(inputs: RuleInputs, table: TableConfig, now: dt.datetime) -> float | None:
    syncs = _mine(inputs.audit, table).filter(
        pl.col("Operation").is_in(SYNC_OPS) & (pl.col("Status") == "Success")
    )
    syncs = syncs.with_columns(
        ((pl.col("EndTime") - pl.col("StartTime")).dt.total_milliseconds() / 1000).alias("s")
    ).sort("EndTime")
    if syncs.height < MIN_HISTORY + 1:
        return None
    last = syncs.row(-1, named=True)
    before = syncs.head(syncs.height - 1).filter(pl.col("EndTime") >= last["EndTime"] - WEEK)
    median = before["s"].median() if before.height >= MIN_HISTORY else None
    if not isinstance(median, float | int) or median <= 0:
        return None
    return float(last["s"]) / float(median) - 1.0


def _validations(inputs: RuleInputs, table: TableConfig) -> pl.DataFrame:
    return (
        _mine(inputs.validation, table)
        .filter(pl.col("BronzeRowCount").is_not_null())
        .sort("ValidationDate")
    )


def _count_deviation(inputs: RuleInputs, table: TableConfig, now: dt.datetime) -> float | None:
    rows = _validations(inputs, table).filter(pl.col("ValidationContext") == SYNC_CONTEXT)
    if rows.height < 2:
        return None
    before, after = rows["ActiveRowCount"][-2], rows["ActiveRowCount"][-1]
    if before is None or after is None:
        return None
    return abs(after - before) / max(before, 1)


def _ratio(column: str) -> Callable[[RuleInputs, TableConfig, dt.datetime], float | None]:
    def ratio(inputs: RuleInputs, table: TableConfig, now: dt.datetime) -> float | None:
        rows = _validations(inputs, table)
        if rows.height == 0:
            return None
        last = rows.row(-1, named=True)
        return (last[column] or 0) / max(last["BronzeRowCount"] or 0, 1)

    return ratio


def _checkpoint_failures(inputs: RuleInputs, table: TableConfig, now: dt.datetime) -> float | None:
    statuses = [
        c.status for c in inputs.checkpoints if c.created >= now - WEEK and table.name in c.tables
    ]
    not_created = (
        _mine(inputs.audit, table)
        .filter((pl.col("Operation") == CHECKPOINT_FAILED) & (pl.col("CreatedDate") >= now - WEEK))
        .height
    )
    attempts = len(statuses) + not_created
    failed = not_created + sum(1 for status in statuses if status != "Validated")
    return failed / attempts if attempts else None


def _checkpoint_age(inputs: RuleInputs, table: TableConfig, now: dt.datetime) -> float | None:
    synced = _mine(inputs.audit, table).filter(pl.col("Operation").is_in(SYNC_OPS))
    if synced.height == 0:
        return None  # never synced: nothing to checkpoint yet
    mine = [c.created for c in inputs.checkpoints if table.name in c.tables]
    first_sync = synced["CreatedDate"].min()
    since = max(mine) if mine else first_sync
    if not isinstance(since, dt.datetime):
        return None
    return (now - since).total_seconds() / 3600


def _vacuum_retention(inputs: RuleInputs, table: TableConfig, now: dt.datetime) -> float | None:
    if not table.enable_vacuum:
        return None
    return inputs.file_retention_hours.get(table.name)


def _maintenance_hours(inputs: RuleInputs, now: dt.datetime) -> float | None:
    runs = inputs.audit.filter(
        (pl.col("PipelineName") == MAINTENANCE_JOB) & (pl.col("CreatedDate") >= now - WEEK)
    )
    spans = runs.group_by("PipelineRunId").agg(
        ((pl.col("EndTime").max() - pl.col("StartTime").min()).dt.total_seconds() / 3600).alias("h")
    )
    hours = [float(h) for h in spans["h"].drop_nulls()]
    hours += [(now - start).total_seconds() / 3600 for start in inputs.running_maintenance.values()]
    return max(hours) if hours else None


def _mine(data: pl.DataFrame, table: TableConfig) -> pl.DataFrame:
    return data.filter(pl.col("TableName") == table.name)


TABLE_RULES: dict[str, Callable[[RuleInputs, TableConfig, dt.datetime], float | None]] = {
    "slow_sync": _slow_sync,
    "record_count_deviation": _count_deviation,
    "deleted_ratio": _ratio("DeletedRowCount"),
    "purged_ratio": _ratio("PurgedRowCount"),
    "checkpoint_failure_rate": _checkpoint_failures,
    "checkpoint_missing": _checkpoint_age,
    "vacuum_retention": _vacuum_retention,
}
