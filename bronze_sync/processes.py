"""Who a process is (host, pid, start time), and whether it still runs.

Leases, staging folders and CLI runs record their owner so that a later process can tell a
crashed owner from a live one. A pid alone is not enough: the kernel reuses pids, so the
process start time (Linux: /proc/<pid>/stat field 22) is kept beside it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any


def process_start(pid: int) -> str | None:
    """Return the start time of process `pid` in clock ticks since boot, or None if unknown."""
    fields = _stat_fields(pid)
    return fields[19] if len(fields) > 19 else None


def _stat_fields(pid: int) -> list[str]:
    """Return /proc/<pid>/stat from field 3 (state) on; empty when unreadable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return []
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return text[text.rfind(")") + 2 :].split()


@dataclass(frozen=True)
class ProcessId:
    """One process on one host, told apart from a later process that reuses its pid."""

    host: str
    pid: int
    start: str | None

    @classmethod
    def current(cls) -> ProcessId:
        """Return this process's identity."""
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start(pid))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessId | None:
        """Return the identity stored by `as_dict`, or None when incomplete."""
        try:
            return cls(str(data["host"]), int(data["pid"]), data.get("pid_start"))
        except (KeyError, TypeError, ValueError):
            return None

    def as_dict(self) -> dict[str, Any]:
        """Return the identity as JSON-ready values."""
        return {"host": self.host, "pid": self.pid, "pid_start": self.start}

    def is_local(self) -> bool:
        """Return True when the process ran on this host."""
        return self.host == socket.gethostname()

    def is_dead(self) -> bool:
        """Return True only when the process certainly no longer runs (this host only)."""
        if not self.is_local():
            return False  # another host's process cannot be checked from here
        if not _pid_exists(self.pid):
            return True
        fields = _stat_fields(self.pid)
        if fields and fields[0] in {"Z", "X"}:  # killed, waiting for its parent to reap it
            return True
        now = fields[19] if len(fields) > 19 else None
        return self.start is not None and now is not None and now != self.start

    def describe(self) -> str:
        """Return `pid N on host H` for messages."""
        return f"pid {self.pid} on host {self.host}"


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    return True
