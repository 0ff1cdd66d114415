"""Run the Dagster jobs in-process for the command line (same jobs the UI launches)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import Checkpoint, create_batch_checkpoint
from bronze_sync.clock import utc_now
from bronze_sync.config import CONFIG_ENV, Config
from bronze_sync.defs.assets import asset_key
from bronze_sync.defs.jobs import load_daily_sync_job
from bronze_sync.defs.partitions import ensure_partition
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.pipeline_config import sync_declared


@dataclass
class TableOutcome:
    """How one table's sync ended in a run."""

    table: str
    status: str
    figures: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class RunOutcome:
    """What a daily_sync run did."""

    run_id: str
    partition_key: str
    success: bool
    tables: list[TableOutcome]
    checkpoint: Checkpoint | None = None


@contextlib.contextmanager
def dagster_instance() -> Iterator[dg.DagsterInstance]:
    """Yield $DAGSTER_HOME's instance (runs show in the UI), else a throwaway one."""
    if os.environ.get("DAGSTER_HOME"):
        with dg.DagsterInstance.get() as instance:
            yield instance
        return
    with (
        tempfile.TemporaryDirectory(prefix="bronze_sync_dagster_") as home,
        dg.DagsterInstance.local_temp(
            tempdir=home, overrides={"telemetry": {"enabled": False}}
        ) as instance,
    ):
        yield instance


def run_daily_sync(
    config: Config,
    instance: dg.DagsterInstance,
    partition_key: str,
    tables: list[str] | None = None,
    allow_mass_delete: bool = False,
) -> RunOutcome:
    """Execute the daily_sync job for one sync batch and collect each table's outcome."""
    selected = [t.name for t in config.select_tables(tables)]
    if config.file:
        # Step processes load the code location again; they must read the same file.
        os.environ[CONFIG_ENV] = config.file
    store = BronzeStore.from_config(config.bronze)
    meta = MetadataStore(store)
    sync_declared(meta, config, utc_now())
    ensure_partition(instance, partition_key)
    run_config: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if allow_mass_delete:
        run_config["ops"] = {
            f"bronze__{name}": {"config": {"allow_mass_delete": True}} for name in selected
        }
    result = dg.execute_job(
        dg.reconstructable(load_daily_sync_job),
        instance=instance,
        run_config=run_config,
        tags={"dagster/partition": partition_key},
        asset_selection=[asset_key(name) for name in selected],
    )
    outcomes = [_table_outcome(result, name) for name in selected]
    checkpoint = create_batch_checkpoint(meta, partition_key, utc_now(), f"cli run {result.run_id}")
    return RunOutcome(
        run_id=result.run_id,
        partition_key=partition_key,
        success=result.success,
        tables=outcomes,
        checkpoint=checkpoint,
    )


def _table_outcome(result: dg.ExecutionResult, table: str) -> TableOutcome:
    node = f"bronze__{table}"
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization.asset_key == asset_key(table):
            figures = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
            return TableOutcome(table, "Success", figures)
    for event in result.get_step_failure_events():
        if event.step_key == node:
            return TableOutcome(table, "Failed", error=_failure_message(event.step_failure_data))
    return TableOutcome(table, "Skipped", error="the step did not run")


def _failure_message(data: Any) -> str:
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


def today_key() -> str:
    """Return today's UTC date as a sync batch key."""
    return dt.datetime.now(dt.UTC).date().isoformat()
