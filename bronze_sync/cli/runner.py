"""Run the Dagster jobs in-process for the command line (same jobs the UI launches)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import create_batch_checkpoint
from bronze_sync.checkpoints.repair import repair_checkpoints
from bronze_sync.cli import err_console
from bronze_sync.cli.dagster_home import dagster_home, home_lock, log_file
from bronze_sync.cli.instance_health import reap_dead_runs, report_pool_holders, table_pool
from bronze_sync.cli.outcomes import FAILED, RunOutcome, TableOutcome, table_outcome
from bronze_sync.cli.owner import owner_tags
from bronze_sync.cli.partition_runs import run_partition_syncs
from bronze_sync.cli.verbosity import dagster_log_config, dagster_output_hidden, set_log_file
from bronze_sync.clock import utc_now
from bronze_sync.config import CONFIG_ENV, Config
from bronze_sync.config.kinds import PARTITIONED
from bronze_sync.defs.assets import asset_key
from bronze_sync.defs.jobs import DAILY_SYNC, NOT_RETRIED
from bronze_sync.defs.location import load_daily_sync_job
from bronze_sync.defs.partitions import ensure_partition
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.metadata.pipeline_config import sync_declared

__all__ = ["RunOutcome", "TableOutcome", "dagster_instance", "run_daily_sync", "today_key"]


@contextlib.contextmanager
def dagster_instance() -> Iterator[dg.DagsterInstance]:
    """Yield the project's Dagster instance (the one `bronze-sync ui` shows).

    It is opened under a file lock (first use creates its storage), runs of this host whose
    process died are failed and their pool slots freed, and Dagster's own console output is
    appended to the home's log file unless -v shows it.
    """
    home = dagster_home()
    set_log_file(log_file(home))
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
    partition_values: Mapping[str, list[str]] | None = None,
) -> RunOutcome:
    """Sync the tables for one sync batch and record its DailyBatch checkpoint.

    The daily_sync job syncs every table but the partitioned ones; each partitioned table's
    job then loads its new values, or exactly `partition_values[table]` (keys) when given.
    """
    selected = config.select_tables(tables)
    plain = [t.name for t in selected if t.kind != PARTITIONED]
    partitioned = [t for t in selected if t.kind == PARTITIONED]
    store = BronzeStore.from_config(config.bronze)
    meta = MetadataStore(store)
    sync_declared(meta, config, utc_now())
    outcomes: dict[str, list[TableOutcome]] = {}
    run_ids: list[str] = []
    success = True
    if plain:
        result = execute_daily_sync(config, instance, partition_key, plain, allow_mass_delete)
        for name in plain:
            outcomes[name] = [table_outcome(result, name, meta)]
        run_ids.append(result.run_id)
        success = result.success
    if partitioned:
        done, ids = run_partition_syncs(
            config, instance, partition_key, partitioned, partition_values, allow_mass_delete
        )
        for outcome in done:
            outcomes.setdefault(outcome.table, []).append(outcome)
        run_ids += ids
        success = success and all(o.status != FAILED for o in done)
    checkpoint = None
    if run_ids:
        by = f"cli run {run_ids[0]}"
        # As the batch sensor does: Daily checkpoints a sync could not record, first.
        run = RunInfo(run_ids[0], DAILY_SYNC, partition_key)
        repair_checkpoints(meta, store, run, utc_now(), by, [t.name for t in selected])
        checkpoint = create_batch_checkpoint(meta, partition_key, utc_now(), by)
    return RunOutcome(
        run_id=run_ids[0] if run_ids else "",
        partition_key=partition_key,
        success=success,
        tables=[o for t in selected for o in outcomes.get(t.name, [])],
        checkpoint=checkpoint,
        run_ids=run_ids,
    )


def execute_daily_sync(
    config: Config,
    instance: dg.DagsterInstance,
    partition_key: str,
    tables: list[str],
    allow_mass_delete: bool,
) -> dg.ExecutionResult:
    """Execute the daily_sync job for the sync batch `partition_key`, selecting `tables`."""
    if config.file:
        # Step processes load the code location again; they must read the same file.
        os.environ[CONFIG_ENV] = config.file
    ensure_partition(instance, partition_key)
    run_config: dict[str, Any] = dagster_log_config()
    if allow_mass_delete:
        run_config["ops"] = {
            f"bronze__{name}": {"config": {"allow_mass_delete": True}} for name in tables
        }
    report_pool_holders(instance, [table_pool(name) for name in tables])
    with dagster_output_hidden():
        return dg.execute_job(
            dg.reconstructable(load_daily_sync_job),
            instance=instance,
            run_config=run_config,
            tags={"dagster/partition": partition_key, **owner_tags(), **NOT_RETRIED},
            asset_selection=[asset_key(name) for name in tables],
        )


def today_key() -> str:
    """Return today's UTC date as a sync batch key."""
    return dt.datetime.now(dt.UTC).date().isoformat()
