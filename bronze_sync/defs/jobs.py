"""Jobs over the bronze assets."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from bronze_sync.defs.assets import GROUP, asset_key
from bronze_sync.defs.k8s import K8S, executor_kind, k8s_executor

DAILY_SYNC = "daily_sync"


def executor(max_parallel_tables: int) -> dg.ExecutorDefinition:
    """Return the executor: one process (or k8s pod) per table, `max_parallel_tables` at once."""
    if executor_kind() == K8S:
        return k8s_executor(max_parallel_tables)
    return dg.multiprocess_executor.configured(
        {"max_concurrent": max_parallel_tables}, name="bronze_sync_executor"
    )


def daily_sync_job(
    max_parallel_tables: int, partitioned: Sequence[str] = ()
) -> dg.UnresolvedAssetJobDefinition:
    """Return the job that syncs every bronze table for one sync batch.

    Partitioned tables (`partitioned`) have partitions of their own and their own jobs.
    """
    selection: dg.AssetSelection = dg.AssetSelection.groups(GROUP)
    if partitioned:
        selection = selection - dg.AssetSelection.assets(*(asset_key(t) for t in partitioned))
    return dg.define_asset_job(
        DAILY_SYNC,
        selection=selection,
        executor_def=executor(max_parallel_tables),
        description="Sync every enabled table into bronze for one sync batch (a UTC day); "
        "partitioned tables load their new values through their own jobs.",
    )
