"""What the sync runs of one command did, per table, read from their Dagster results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from bronze_sync.checkpoints import Checkpoint
from bronze_sync.defs.assets import asset_key
from bronze_sync.metadata import MetadataStore
from bronze_sync.monitoring.breaker import read_breaker

SUCCESS, FAILED, SKIPPED = "Success", "Failed", "Skipped"
UP_TO_DATE = "Up to date"  # a partitioned table whose source has no new value: no run
GOOD = {SUCCESS, UP_TO_DATE}


@dataclass
class TableOutcome:
    """How one table's sync ended in a run."""

    table: str
    status: str
    figures: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    note: str | None = None  # printed under the run table (not a failure)


@dataclass
class RunOutcome:
    """What the runs of one sync batch did (daily_sync and the partitioned tables' jobs)."""

    run_id: str
    partition_key: str
    success: bool
    tables: list[TableOutcome]
    checkpoint: Checkpoint | None = None
    run_ids: list[str] = field(default_factory=list)

    @property
    def all_synced(self) -> bool:
        """Return True when every run succeeded and no table was skipped."""
        return self.success and all(t.status in GOOD for t in self.tables)


def table_outcome(result: dg.ExecutionResult, table: str, meta: MetadataStore) -> TableOutcome:
    """Return how `table`'s step ended in the run `result`."""
    node = f"bronze__{table}"
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization.asset_key == asset_key(table):
            figures = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
            return TableOutcome(table, SUCCESS, figures)
    for event in result.get_step_failure_events():
        if event.step_key == node:
            return TableOutcome(table, FAILED, error=failure_message(event.step_failure_data))
    breaker = read_breaker(meta, table)
    if breaker.is_open:
        # The asset skips (and audits) a table whose breaker is open without failing the run.
        return TableOutcome(table, SKIPPED, error=f"skipped: {breaker.reason()}")
    return TableOutcome(table, SKIPPED, error="the step did not run")


def failure_message(data: Any) -> str:
    """Return the user-facing reason of a step failure, with the cause after retries."""
    parts: list[str] = []
    user = data.user_failure_data
    if user and user.description:
        parts.append(user.description.strip())
    error = data.error
    while error is not None:
        text = error.message.strip()
        if error.cls_name == "Failure" or any(text in p for p in parts):
            error = error.cause
            continue
        parts.append(text)
        error = error.cause
    return "; ".join(parts)
