"""CLI runs and throwaway Dagster homes name their owner process in Dagster run tags."""

from __future__ import annotations

from collections.abc import Mapping

from bronze_sync.processes import ProcessId

HOST_TAG = "bronze_sync/host"
PID_TAG = "bronze_sync/pid"
STARTED_TAG = "bronze_sync/pid_started"
BOOT_TAG = "bronze_sync/boot_id"


def owner_tags(process: ProcessId | None = None) -> dict[str, str]:
    """Return the run tags naming `process` (default: this process)."""
    process = process or ProcessId.current()
    tags = {HOST_TAG: process.host, PID_TAG: str(process.pid)}
    if process.start:
        tags[STARTED_TAG] = process.start
    if process.boot_id:
        tags[BOOT_TAG] = process.boot_id
    return tags


def owner_from_tags(values: Mapping[str, str]) -> ProcessId | None:
    """Return the process `owner_tags` named, or None when the values name none."""
    host, pid = values.get(HOST_TAG), values.get(PID_TAG)
    if not host or not pid or not str(pid).isdigit():
        return None
    return ProcessId(host, int(pid), values.get(STARTED_TAG) or None, values.get(BOOT_TAG))
