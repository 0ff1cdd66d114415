"""Jobs over the bronze assets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg

from bronze_sync.defs.assets import GROUP, asset_key
from bronze_sync.defs.k8s import K8S, executor_kind, k8s_executor

DAILY_SYNC = "daily_sync"
# Run tags the auto-run-reexecution daemon reads (dagster._core.storage.tags).
MAX_RETRIES_TAG = "dagster/max_retries"
RETRY_STRATEGY_TAG = "dagster/retry_strategy"
FROM_FAILURE = "FROM_FAILURE"
# A run executed in-process (the CLI) has no code location the daemon could re-execute it
# from: tagged so, it is not marked "will retry" when it fails.
NOT_RETRIED = {MAX_RETRIES_TAG: "0"}
# Names the profile of the configuration (profiles:) a run's job was built from.
PROFILE_TAG = "bronze_sync/profile"


def executor(max_parallel_tables: int) -> dg.ExecutorDefinition:
    """Return the executor: one process (or k8s pod) per table, `max_parallel_tables` at once."""
    if executor_kind() == K8S:
        return k8s_executor(max_parallel_tables)
    return dg.multiprocess_executor.configured(
        {"max_concurrent": max_parallel_tables}, name="bronze_sync_executor"
    )


def sync_job_tags(run_retries: int, profile: str | None = None) -> dict[str, str]:
    """Return the tags of the sync jobs: the daemon's run retries and the active profile.

    A failed run is re-executed from its failed steps (the tables that synced are not synced
    again) at most `run_retries` times, when the instance enables run retries (dagster.yaml).
    """
    tags = {MAX_RETRIES_TAG: str(run_retries), RETRY_STRATEGY_TAG: FROM_FAILURE}
    if profile:
        tags[PROFILE_TAG] = profile
    return tags


def daily_sync_job(
    max_parallel_tables: int, partitioned: Sequence[str] = (), tags: Mapping[str, str] | None = None
) -> dg.UnresolvedAssetJobDefinition:
    """Return the job that syncs every bronze table for one sync batch.

    Partitioned tables (`partitioned`) have partitions of their own and their own jobs;
    `tags` (sync_job_tags) go on every run of the job.
    """
    selection: dg.AssetSelection = dg.AssetSelection.groups(GROUP)
    if partitioned:
        selection = selection - dg.AssetSelection.assets(*(asset_key(t) for t in partitioned))
    return dg.define_asset_job(
        DAILY_SYNC,
        selection=selection,
        executor_def=executor(max_parallel_tables),
        tags=dict(tags or {}),
        description="Sync every enabled table into bronze for one sync batch (a UTC day); "
        "partitioned tables load their new values through their own jobs.",
    )
