"""Who owns a staging folder, and whether that process still runs.

Each staging folder holds an owner marker: host, pid and the process's start time (field 22
of /proc/<pid>/stat, clock ticks since boot) plus the boot id, so a pid reused by another
process, or a reboot, is not mistaken for the owner.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MARKER = ".owner.json"
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
START_TIME_FIELD = 22  # /proc/<pid>/stat, 1-based (proc(5))
STATE_FIELD = 3
GONE_STATES = {"Z", "X"}  # zombie or dead: killed, only waiting to be reaped


@dataclass(frozen=True)
class Owner:
    """The process that created a staging folder."""

    host: str
    pid: int
    start_ticks: int | None  # None where /proc is not available
    boot_id: str | None
    run_id: str
    created_at: dt.datetime

    @classmethod
    def current(cls, run_id: str) -> Owner:
        """Return this process as an owner of a folder created now."""
        pid = os.getpid()
        stat = _proc_stat(pid)
        return cls(
            host=socket.gethostname(),
            pid=pid,
            start_ticks=int(stat[START_TIME_FIELD - 1]) if stat else None,
            boot_id=_boot_id(),
            run_id=run_id,
            created_at=dt.datetime.now(dt.UTC),
        )

    def is_local(self) -> bool:
        """Return True when the owner ran on this host."""
        return self.host == socket.gethostname()

    def is_alive(self) -> bool:
        """Return True while the owning process (on this host) still runs."""
        boot = _boot_id()
        if self.boot_id and boot and self.boot_id != boot:
            return False  # the machine rebooted since
        stat = _proc_stat(self.pid)
        if stat is None:  # on Linux the process is gone; elsewhere (no /proc) ask the kernel
            return not BOOT_ID.exists() and _signal_reaches(self.pid)
        if stat[STATE_FIELD - 1] in GONE_STATES:
            return False
        return self.start_ticks is None or int(stat[START_TIME_FIELD - 1]) == self.start_ticks

    def describe(self) -> str:
        """Return "pid 123 on host-a (run 1a2b3c)" for logs."""
        return f"pid {self.pid} on {self.host} (run {self.run_id})"

    def to_json(self) -> dict[str, Any]:
        """Return the marker's JSON object."""
        return {**asdict(self), "created_at": self.created_at.isoformat()}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Owner:
        """Build an owner from a marker's JSON object."""
        ticks = value.get("start_ticks")
        return cls(
            host=str(value["host"]),
            pid=int(value["pid"]),
            start_ticks=None if ticks is None else int(ticks),
            boot_id=value.get("boot_id"),
            run_id=str(value.get("run_id", "")),
            created_at=dt.datetime.fromisoformat(value["created_at"]),
        )


def write_marker(folder: Path, owner: Owner) -> None:
    """Write the owner marker into `folder` (atomically: a reader never sees half of it)."""
    temp = folder / f"{MARKER}.tmp"
    temp.write_text(json.dumps(owner.to_json()))
    os.replace(temp, folder / MARKER)


def read_marker(folder: Path) -> Owner | None:
    """Return the owner recorded in `folder`, or None when there is no readable marker."""
    try:
        return Owner.from_json(json.loads((folder / MARKER).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _proc_stat(pid: int) -> list[str] | None:
    """Return the fields of /proc/<pid>/stat (1-based field n at index n-1), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 is the command in parentheses and may itself hold spaces and parentheses.
    head, _, rest = text.rpartition(")")
    pid, _, command = head.partition(" (")
    return [pid, command, *rest.split()]


def _boot_id() -> str | None:
    try:
        return BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def _signal_reaches(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
