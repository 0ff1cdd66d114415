"""Who a process is (host, pid, start time, boot), and whether it still runs.

Leases, staging folders and CLI runs record their owner so that a later process can tell a
crashed owner from a live one. A pid alone is not enough: the kernel reuses pids, so the
process start time (Linux: field 22 of /proc/<pid>/stat, clock ticks since boot) and the boot
id are kept beside it; a reboot or a reused pid is never mistaken for the owner.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
START_TIME_FIELD = 22  # /proc/<pid>/stat, 1-based (proc(5))
STATE_FIELD = 3
GONE_STATES = {"Z", "X"}  # zombie or dead: killed, only waiting to be reaped


@dataclass(frozen=True)
class ProcessId:
    """One process on one host, told apart from a later process that reuses its pid."""

    host: str
    pid: int
    start: str | None  # None where /proc is not available
    boot_id: str | None = None

    @classmethod
    def current(cls) -> ProcessId:
        """Return this process's identity."""
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start(pid), boot_id())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessId | None:
        """Return the identity stored by `as_dict`, or None when incomplete."""
        try:
            start = data.get("pid_start")
            return cls(
                str(data["host"]),
                int(data["pid"]),
                None if start is None else str(start),
                data.get("boot_id"),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def as_dict(self) -> dict[str, Any]:
        """Return the identity as JSON-ready values."""
        return {
            "host": self.host,
            "pid": self.pid,
            "pid_start": self.start,
            "boot_id": self.boot_id,
        }

    def is_local(self) -> bool:
        """Return True when the process ran on this host."""
        return self.host == socket.gethostname()

    def is_dead(self) -> bool:
        """Return True only when the process certainly no longer runs (this host only)."""
        if not self.is_local():
            return False  # another host's process cannot be checked from here
        boot = boot_id()
        if self.boot_id and boot and self.boot_id != boot:
            return True  # the machine rebooted since
        fields = _stat_fields(self.pid)
        if not fields:  # on Linux the process is gone; without /proc ask the kernel
            return BOOT_ID.exists() or not _signal_reaches(self.pid)
        if fields[STATE_FIELD - 1] in GONE_STATES:
            return True
        return self.start is not None and fields[START_TIME_FIELD - 1] != self.start

    def describe(self) -> str:
        """Return `pid N on host H` for messages."""
        return f"pid {self.pid} on host {self.host}"


def process_start(pid: int) -> str | None:
    """Return the start time of process `pid` in clock ticks since boot, or None if unknown."""
    fields = _stat_fields(pid)
    return fields[START_TIME_FIELD - 1] if len(fields) >= START_TIME_FIELD else None


def boot_id() -> str | None:
    """Return this machine's boot id (changes at every reboot), or None if unknown."""
    try:
        return BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str]:
    """Return the fields of /proc/<pid>/stat (1-based field n at index n-1); empty if none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except OSError:
        return []
    # Field 2 is the command in parentheses and may itself hold spaces and parentheses.
    head, _, rest = text.rpartition(")")
    number, _, command = head.partition(" (")
    return [number, command, *rest.split()]


def _signal_reaches(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
