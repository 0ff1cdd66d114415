"""Which process on which host owns a CLI run or a throwaway Dagster home, and is it alive."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

HOST_TAG = "bronze_sync/host"
PID_TAG = "bronze_sync/pid"
STARTED_TAG = "bronze_sync/pid_started"


def _proc_stat(pid: int) -> list[str] | None:
    """Return fields 3 onwards of /proc/<pid>/stat (Linux), or None when unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return stat.rsplit(")", 1)[-1].split()


def process_start_ticks(pid: int) -> str | None:
    """Return when process `pid` started (clock ticks after boot), or None when unknown.

    Field 22 of /proc/<pid>/stat tells a reused pid from the process that held it.
    """
    fields = _proc_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    fields = _proc_stat(pid)
    # A killed process its parent has not reaped yet is a zombie: it runs nothing.
    return not (fields and fields[0] == "Z")


@dataclass(frozen=True)
class ProcessOwner:
    """A process identified by host, pid and start time (which survives pid reuse)."""

    host: str
    pid: int
    started: str | None = None

    @classmethod
    def current(cls) -> ProcessOwner:
        """Return this process."""
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start_ticks(pid))

    @classmethod
    def from_mapping(cls, values: dict[str, str]) -> ProcessOwner | None:
        """Return the owner written by `as_tags`, or None when the values do not name one."""
        host, pid = values.get(HOST_TAG), values.get(PID_TAG)
        if not host or not pid or not pid.isdigit():
            return None
        return cls(host, int(pid), values.get(STARTED_TAG) or None)

    def as_tags(self) -> dict[str, str]:
        """Return the owner as Dagster run tags (also the marker file's content)."""
        tags = {HOST_TAG: self.host, PID_TAG: str(self.pid)}
        if self.started:
            tags[STARTED_TAG] = self.started
        return tags

    @property
    def on_this_host(self) -> bool:
        """Return True when the owner runs (or ran) on this machine."""
        return self.host == socket.gethostname()

    def is_dead(self) -> bool:
        """Return True only when the owner is on this host and certainly gone."""
        if not self.on_this_host:
            return False
        if not _pid_exists(self.pid):
            return True
        if self.started is None:
            return False
        now = process_start_ticks(self.pid)
        # A different start time means the pid now belongs to another process.
        return now is not None and now != self.started

    def describe(self) -> str:
        """Return `host <h> pid <p>` for messages."""
        return f"host {self.host} pid {self.pid}"
