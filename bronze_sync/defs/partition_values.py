"""Partitioned tables in Dagster: a partitions definition, a job and run requests per table.

A partitioned table's asset is partitioned by the table's own values (COBID 20260131, a
date, a string), one dynamic partition key per value, so the UI shows which values bronze
holds and an operator backfills a range of them in one run. The `sync_batches` day of such
a run (its Daily checkpoint, audit rows) travels in the run tag SYNC_BATCH_TAG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from bronze_sync.config.kinds import PARTITIONED
from bronze_sync.config.models import Config, TableConfig

JOB_PREFIX = "sync_partitions_"
SYNC_BATCH_TAG = "bronze_sync/sync_batch"
PARTITION_TAG = "dagster/partition"


def partitions_name(table: str) -> str:
    """Return the name of the dynamic partitions holding `table`'s partition values."""
    return f"{table}_values"


def value_partitions(table: str) -> dg.DynamicPartitionsDefinition:
    """Return the dynamic partitions definition of partitioned table `table`."""
    return dg.DynamicPartitionsDefinition(name=partitions_name(table))


def partition_job_name(table: str) -> str:
    """Return the name of the job that (re)loads partition values of `table`."""
    return f"{JOB_PREFIX}{table}"


def is_partition_job(job_name: str) -> bool:
    """Return True for the job of a partitioned table."""
    return job_name.startswith(JOB_PREFIX)


def partitioned_tables(config: Config) -> list[TableConfig]:
    """Return the enabled tables of kind partitioned."""
    return [t for t in config.enabled_tables() if t.kind == PARTITIONED]


def partition_jobs(
    config: Config, executor: dg.ExecutorDefinition, tags: Mapping[str, str] | None = None
) -> list[dg.UnresolvedAssetJobDefinition]:
    """Return one job per partitioned table, selecting its asset (and so its checks)."""
    return [
        dg.define_asset_job(
            partition_job_name(table.name),
            selection=dg.AssetSelection.assets(dg.AssetKey(["bronze", table.name])),
            executor_def=executor,
            tags=dict(tags or {}),
            description=(
                f"Load or reload partition values of {table.name} ({table.partition_column}): "
                "a ranged run or backfill reloads all its values in one sync."
            ),
        )
        for table in partitioned_tables(config)
    ]


def range_tags(first: str, last: str) -> dict[str, str]:
    """Return the run tags of one run over the partition keys first..last."""
    if first == last:
        return {PARTITION_TAG: first}
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def contiguous_runs(registered: Sequence[str], wanted: Sequence[str]) -> list[tuple[str, str]]:
    """Return (first, last) key ranges covering exactly `wanted` in the registered key order.

    Dagster ranges run between positions of the registered keys; a value registered out of
    order (a late older one) splits the wanted keys into several ranges.
    """
    chosen = set(wanted)
    ranges: list[tuple[str, str]] = []
    start: str | None = None
    previous: str | None = None
    for key in registered:
        if key in chosen and start is None:
            start = key
        elif key not in chosen and start is not None:
            ranges.append((start, previous or start))
            start = None
        previous = key
    if start is not None:
        ranges.append((start, previous or start))
    return ranges


def new_value_requests(
    table: str, registered: Sequence[str], new_keys: Sequence[str], batch: str
) -> list[dg.RunRequest]:
    """Return the runs that load `new_keys`: one ranged run if they are the newest, else one each.

    Run keys name the table and values, so a sensor asks for each load once.
    """
    if not new_keys:
        return []
    job, tags = partition_job_name(table), {SYNC_BATCH_TAG: batch}
    if list(registered[-len(new_keys) :]) == list(new_keys):
        first, last = new_keys[0], new_keys[-1]
        return [
            dg.RunRequest(
                run_key=f"{table}:{first}..{last}",
                job_name=job,
                tags={**tags, **range_tags(first, last)},
            )
        ]
    return [
        dg.RunRequest(run_key=f"{table}:{key}", job_name=job, partition_key=key, tags=tags)
        for key in new_keys
    ]


def missing_keys(instance: dg.DagsterInstance, table: str, keys: Sequence[str]) -> list[str]:
    """Return the keys (in the given, ascending order) not yet registered for `table`."""
    registered = set(instance.get_dynamic_partitions(partitions_name(table)))
    return [k for k in keys if k not in registered]


def register_keys(instance: dg.DagsterInstance, table: str, keys: Sequence[str]) -> list[str]:
    """Register `table`'s missing keys ascending; return every registered key in order."""
    missing = missing_keys(instance, table, keys)
    if missing:
        instance.add_dynamic_partitions(partitions_name(table), missing)
    return list(instance.get_dynamic_partitions(partitions_name(table)))


def sync_batch_key(run: dg.DagsterRun) -> str | None:
    """Return the sync batch (UTC day) of a bronze run: its batch tag, else its partition."""
    batch = run.tags.get(SYNC_BATCH_TAG)
    if batch or is_partition_job(run.job_name):
        return batch  # a partitioned table's partition key is a value, not a day
    return run.tags.get(PARTITION_TAG)
