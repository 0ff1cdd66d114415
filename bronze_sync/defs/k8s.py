"""Kubernetes scale-out: one pod per table step, sized by the table's `size` setting.

`BRONZE_SYNC_EXECUTOR=k8s` makes every job run its steps with dagster-k8s's k8s_job_executor
(each table's sync its own Kubernetes Job); the default runs them as local processes. Each
table asset carries `dagster-k8s/config` op tags with the container resources of its size:
the k8s executor applies them to the step's pod, every other executor ignores them.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from bronze_sync.config.models import TableConfig
from bronze_sync.errors import ConfigError

EXECUTOR_ENV = "BRONZE_SYNC_EXECUTOR"
MULTIPROCESS, K8S = "multiprocess", "k8s"
K8S_CONFIG_TAG = "dagster-k8s/config"

# Requests are what the scheduler reserves; the memory limit leaves room above the sync's
# memory_budget_mb (2 GiB by default) for Arrow buffers and the Delta writer. CPU has no limit:
# a throttled step only gets slower, while a memory overrun would kill it mid-commit.
# Sizes follow the benchmark (docs/scale-out.md): a 1M-row table syncs in ~3 s on 2 cores.
SIZE_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "small": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
    "medium": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
    "large": {"requests": {"cpu": "2", "memory": "6Gi"}, "limits": {"memory": "8Gi"}},
}


def container_resources(size: str) -> dict[str, dict[str, str]]:
    """Return the Kubernetes container resources (requests, limits) of a table size."""
    try:
        return {part: dict(values) for part, values in SIZE_RESOURCES[size].items()}
    except KeyError:
        known = ", ".join(SIZE_RESOURCES)
        raise ConfigError(f"size {size!r} is not a table size ({known})") from None


def k8s_op_tags(table: TableConfig) -> dict[str, Any]:
    """Return the op tags that give the table's step pod the resources of its size."""
    return {K8S_CONFIG_TAG: {"container_config": {"resources": container_resources(table.size)}}}


def executor_kind() -> str:
    """Return the executor $BRONZE_SYNC_EXECUTOR asks for (multiprocess when unset)."""
    value = os.environ.get(EXECUTOR_ENV, "").strip().lower() or MULTIPROCESS
    if value not in (MULTIPROCESS, K8S):
        raise ConfigError(
            f"{EXECUTOR_ENV}={value!r} is not an executor (use {MULTIPROCESS} or {K8S})"
        )
    return value


def k8s_executor(max_parallel_tables: int) -> dg.ExecutorDefinition:
    """Return the k8s_job_executor running at most `max_parallel_tables` step pods per run."""
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError:
        raise ConfigError(
            f"{EXECUTOR_ENV}={K8S} needs dagster-k8s: pip install 'bronze_sync[k8s]'"
        ) from None
    # The pods' image, namespace and env come from the Helm chart's run launcher; only the
    # per-run pod cap is ours. Pools still admit one step per table across runs.
    return k8s_job_executor.configured(
        {"max_concurrent": max_parallel_tables}, name="bronze_sync_executor"
    )
