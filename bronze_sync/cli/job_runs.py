"""Run op-based Dagster jobs (purge, checkpoints) in-process, as the UI would launch them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

from bronze_sync.cli.owner import owner_tags
from bronze_sync.cli.verbosity import dagster_log_config, dagster_output_hidden
from bronze_sync.config import CONFIG_ENV, Config


@contextlib.contextmanager
def run_job(
    loader: Callable[[], dg.JobDefinition],
    config: Config,
    instance: dg.DagsterInstance,
    ops: dict[str, Any] | None = None,
) -> Iterator[Any]:
    """Execute the job `loader` resolves with op config `ops`; yield the open result."""
    if config.file:
        # The job is reconstructed from the code location, which must read the same file.
        os.environ[CONFIG_ENV] = config.file
    run_config: dict[str, Any] = {**dagster_log_config(), "ops": ops or {}}
    forget_reconstructed_jobs()
    with dagster_output_hidden():
        result = dg.execute_job(
            dg.reconstructable(loader),
            instance=instance,
            run_config=run_config,
            tags=owner_tags(),
        )
    with result:
        yield result


def forget_reconstructed_jobs() -> None:
    """Drop Dagster's per-process cache of reconstructed jobs.

    Dagster keeps the last reconstructed job definition per process; a second run of the
    same job with another configuration file would otherwise run against the first one.
    """
    from dagster._core.definitions.reconstruct import ReconstructableJob

    for cached in (ReconstructableJob.get_definition, ReconstructableJob.get_repository_definition):
        clear = getattr(cached, "cache_clear", None)
        if clear is not None:
            clear()


def failure_message(result: Any) -> str:
    """Return why a run failed: each failed step's description, else its error."""
    messages = []
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        user = data.user_failure_data
        if user is not None and user.description:
            messages.append(user.description.strip())
        elif data.error is not None:
            messages.append(data.error.message.strip())
    return "; ".join(messages) or "the run failed"
