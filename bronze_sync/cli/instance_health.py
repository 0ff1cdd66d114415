"""Keep a persistent Dagster instance usable: fail runs whose process died, free their slots.

No daemon runs inside a command-line sync, so a `kill -9` of one would leave its run STARTED
and its table's pool slot (limit 1) held forever; the next run would wait on it.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
from dagster._utils.concurrency import ConcurrencyKeyInfo

from bronze_sync.cli import err_console
from bronze_sync.cli.owner import HOST_TAG, owner_from_tags
from bronze_sync.processes import ProcessId

IN_FLIGHT = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
FINISHED = {
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
}


def table_pool(table: str) -> str:
    """Return the concurrency pool of bronze table `table` (see defs/assets.py)."""
    return f"bronze_{table}"


def report_pool_holders(instance: dg.DagsterInstance, pools: list[str]) -> None:
    """Free slots of ended runs in `pools`, then print which live runs this run waits for."""
    for line in [*free_finished_holders(instance, pools), *slot_holder_lines(instance, pools)]:
        err_console.print(line, soft_wrap=True)


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail this host's CLI runs whose process is gone and free their slots; one line each."""
    owner_here = ProcessId.current()
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=IN_FLIGHT, tags={HOST_TAG: owner_here.host})
    )
    lines = []
    for record in records:
        run = record.dagster_run
        owner = owner_from_tags(dict(run.tags))
        if owner is None or not owner.is_dead():
            continue
        instance.report_run_failed(
            run, f"the bronze-sync process that ran this run ({owner.describe()}) is gone"
        )
        _free_slots(instance, run.run_id)
        lines.append(
            f"freed run {run.run_id} ({run.job_name}, started {_started(record)}, "
            f"{owner.describe()}): its process is gone; marked failed, pool slots released"
        )
    return lines


def free_finished_holders(instance: dg.DagsterInstance, pools: list[str]) -> list[str]:
    """Release slots of `pools` still held by runs that ended or no longer exist."""
    lines = []
    for pool, info in _pool_infos(instance, pools).items():
        for run_id in sorted(info.active_run_ids | info.pending_run_ids):
            record = _record(instance, run_id)
            if record is not None and record.dagster_run.status not in FINISHED:
                continue
            _free_slots(instance, run_id)
            status = "deleted" if record is None else record.dagster_run.status.value.lower()
            lines.append(f"freed pool {pool}: run {run_id} ({status}) still held its slot")
    return lines


def slot_holder_lines(instance: dg.DagsterInstance, pools: list[str]) -> list[str]:
    """Return one line per live run holding a slot a new run of `pools` would wait for."""
    lines = []
    for pool, info in _pool_infos(instance, pools).items():
        if info.limit is None or len(info.claimed_slots) < info.limit:
            continue
        for run_id in sorted(info.active_run_ids):
            lines.append(f"{pool}: slot held by {_holder(instance, run_id)}; this sync waits")
    return lines


def _holder(instance: dg.DagsterInstance, run_id: str) -> str:
    record = _record(instance, run_id)
    if record is None:
        return f"run {run_id}"
    run = record.dagster_run
    owner = owner_from_tags(dict(run.tags))
    where = (
        owner.describe()
        if owner
        else "launched from the UI or an older bronze-sync; if its process is dead, "
        "terminate the run in the Dagster UI"
    )
    return f"run {run_id} ({run.job_name}, started {_started(record)}, {where})"


def _pool_infos(instance: dg.DagsterInstance, pools: list[str]) -> dict[str, ConcurrencyKeyInfo]:
    storage = instance.event_log_storage
    if not pools or not storage.supports_global_concurrency_limits:
        return {}
    return dict(storage.get_concurrency_infos(pools))


def _free_slots(instance: dg.DagsterInstance, run_id: str) -> None:
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        storage.free_concurrency_slots_for_run(run_id)


def _record(instance: dg.DagsterInstance, run_id: str) -> dg.RunRecord | None:
    records = instance.get_run_records(filters=dg.RunsFilter(run_ids=[run_id]), limit=1)
    return records[0] if records else None


def _started(record: dg.RunRecord) -> str:
    stamp = record.start_time or record.create_timestamp.timestamp()
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
