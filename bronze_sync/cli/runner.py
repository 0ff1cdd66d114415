"""Run the Dagster jobs in-process for the command line (same jobs the UI launches)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import Checkpoint, create_batch_checkpoint
from bronze_sync.cli import err_console
from bronze_sync.cli.dagster_home import (
    home_lock,
    persistent_home,
    remove_stale_temp_homes,
    temp_home,
)
from bronze_sync.cli.instance_health import (
    free_finished_holders,
    reap_dead_runs,
    slot_holder_lines,
    table_pool,
)
from bronze_sync.cli.owner import owner_tags
from bronze_sync.cli.verbosity import dagster_log_config, dagster_output_hidden
from bronze_sync.clock import utc_now
from bronze_sync.config import CONFIG_ENV, Config
from bronze_sync.defs.assets import asset_key
from bronze_sync.defs.jobs import load_daily_sync_job
from bronze_sync.defs.partitions import ensure_partition
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.pipeline_config import sync_declared
from bronze_sync.monitoring.breaker import read_breaker


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

    @property
    def all_synced(self) -> bool:
        """Return True when the run succeeded and no table was skipped."""
        return self.success and all(t.status == "Success" for t in self.tables)


@contextlib.contextmanager
def dagster_instance() -> Iterator[dg.DagsterInstance]:
    """Yield $DAGSTER_HOME's instance (runs show in the UI), else a throwaway one.

    Throwaway homes left by killed commands are removed first. $DAGSTER_HOME is opened
    under a file lock, and runs of this host whose process died are failed there.
    """
    stale = remove_stale_temp_homes()
    if stale:
        err_console.print(f"removed {len(stale)} Dagster temp folder(s) of ended bronze-sync runs")
    home = persistent_home()
    if home is None:
        with (
            temp_home() as path,
            dg.DagsterInstance.local_temp(
                tempdir=str(path), overrides={"telemetry": {"enabled": False}}
            ) as instance,
        ):
            yield instance
        return
    with contextlib.ExitStack() as stack:
        with home_lock(home):
            instance = stack.enter_context(dg.DagsterInstance.get())
            # First use creates the storages' schemas: keep it under the lock too.
            instance.get_run_records(limit=1)
            freed = reap_dead_runs(instance)
        for line in freed:
            err_console.print(line, soft_wrap=True)
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
    run_config: dict[str, Any] = dagster_log_config()
    if allow_mass_delete:
        run_config["ops"] = {
            f"bronze__{name}": {"config": {"allow_mass_delete": True}} for name in selected
        }
    report_pool_holders(instance, [table_pool(name) for name in selected])
    with dagster_output_hidden():
        result = dg.execute_job(
            dg.reconstructable(load_daily_sync_job),
            instance=instance,
            run_config=run_config,
            tags={"dagster/partition": partition_key, **owner_tags()},
            asset_selection=[asset_key(name) for name in selected],
        )
    outcomes = [_table_outcome(result, name, meta) for name in selected]
    checkpoint = create_batch_checkpoint(meta, partition_key, utc_now(), f"cli run {result.run_id}")
    return RunOutcome(
        run_id=result.run_id,
        partition_key=partition_key,
        success=result.success,
        tables=outcomes,
        checkpoint=checkpoint,
    )


def report_pool_holders(instance: dg.DagsterInstance, pools: list[str]) -> None:
    """Free slots of ended runs in `pools`, then print which live runs this run waits for."""
    for line in [*free_finished_holders(instance, pools), *slot_holder_lines(instance, pools)]:
        err_console.print(line, soft_wrap=True)


def _table_outcome(result: dg.ExecutionResult, table: str, meta: MetadataStore) -> TableOutcome:
    node = f"bronze__{table}"
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization.asset_key == asset_key(table):
            figures = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
            return TableOutcome(table, "Success", figures)
    for event in result.get_step_failure_events():
        if event.step_key == node:
            return TableOutcome(table, "Failed", error=_failure_message(event.step_failure_data))
    breaker = read_breaker(meta, table)
    if breaker.is_open:
        # The asset skips (and audits) a table whose breaker is open without failing the run.
        return TableOutcome(table, "Skipped", error=f"skipped: {breaker.reason()}")
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
