"""Run partitioned tables' jobs in-process: their new values, or a chosen range, per run.

The keys are registered with the instance first, as the partition-value sensor does, so a
command-line run shows in the UI under the same partitions as a sensor run or a backfill.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli.instance_health import report_pool_holders, table_pool
from bronze_sync.cli.job_runs import forget_reconstructed_jobs
from bronze_sync.cli.outcomes import FAILED, UP_TO_DATE, TableOutcome, table_outcome
from bronze_sync.cli.owner import owner_tags
from bronze_sync.cli.verbosity import dagster_log_config, dagster_output_hidden
from bronze_sync.config import CONFIG_ENV, Config
from bronze_sync.config.models import TableConfig
from bronze_sync.defs.jobs import NOT_RETRIED
from bronze_sync.defs.location import reconstructable_partition_job
from bronze_sync.defs.partition_values import (
    SYNC_BATCH_TAG,
    contiguous_runs,
    partition_job_name,
    range_tags,
    register_keys,
)
from bronze_sync.errors import BronzeSyncError
from bronze_sync.metadata import MetadataStore
from bronze_sync.sources import open_source
from bronze_sync.sync.partition_plan import discover_values


def run_partition_syncs(
    config: Config,
    instance: dg.DagsterInstance,
    batch: str,
    tables: Sequence[TableConfig],
    chosen: Mapping[str, list[str]] | None = None,
    allow_mass_delete: bool = False,
) -> tuple[list[TableOutcome], list[str]]:
    """Load each table's new values (or its `chosen` keys); return outcomes and run ids."""
    store = BronzeStore.from_config(config.bronze)
    outcomes: list[TableOutcome] = []
    run_ids: list[str] = []
    for table in tables:
        if chosen is not None:
            keys = known = chosen[table.name]
        else:
            try:
                with open_source(config) as source:
                    found = discover_values(source, store, table)
            except BronzeSyncError as exc:  # the other tables still sync
                outcomes.append(TableOutcome(table.name, FAILED, error=str(exc)))
                continue
            keys, known = found.new_keys, found.keys
        registered = register_keys(instance, table.name, known)
        if not keys:
            note = "no new partition values in the source"
            outcomes.append(TableOutcome(table.name, UP_TO_DATE, note=note))
            continue
        for first, last in contiguous_runs(registered, keys):
            result = execute_partition_run(
                config, instance, table.name, range_tags(first, last), batch, allow_mass_delete
            )
            outcomes.append(table_outcome(result, table.name, MetadataStore(store)))
            run_ids.append(result.run_id)
    return outcomes, run_ids


def execute_partition_run(
    config: Config,
    instance: dg.DagsterInstance,
    table: str,
    partition_tags: Mapping[str, str],
    batch: str,
    allow_mass_delete: bool,
) -> Any:
    """Execute `table`'s job for the partition keys its tags name; return the Dagster result."""
    if config.file:
        # Step processes load the code location again; they must read the same file.
        os.environ[CONFIG_ENV] = config.file
    run_config: dict[str, Any] = dagster_log_config()
    if allow_mass_delete:
        run_config["ops"] = {f"bronze__{table}": {"config": {"allow_mass_delete": True}}}
    report_pool_holders(instance, [table_pool(table)])
    forget_reconstructed_jobs()
    with dagster_output_hidden():
        return dg.execute_job(
            reconstructable_partition_job(partition_job_name(table)),
            instance=instance,
            run_config=run_config,
            tags={SYNC_BATCH_TAG: batch, **partition_tags, **owner_tags(), **NOT_RETRIED},
        )
