"""Run a benchmark phase inside a Linux memory cgroup, so a memory budget is enforced.

`ulimit -v` is no use here: Arrow, Polars and Rust allocators reserve far more address space
than they touch, so a virtual-memory cap fails healthy runs. A cgroup caps what the process
really uses (page cache included, which the kernel reclaims before it kills anything).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from bronze_sync.errors import BronzeSyncError

CGROUP_ROOT = Path("/sys/fs/cgroup")


class MemoryLimitUnavailable(BronzeSyncError):
    """The machine offers no memory cgroup this process may create."""


@dataclass
class MemoryCage:
    """A memory cgroup (v1 or v2) with a hard limit, removed on close."""

    path: Path
    version: int
    limit_mb: int

    @classmethod
    def create(cls, limit_mb: int) -> MemoryCage:
        """Create a cgroup limited to `limit_mb` MiB of memory."""
        name = f"bronze_sync_bench_{uuid.uuid4().hex[:8]}"
        limit = str(limit_mb * 2**20)
        try:
            if (CGROUP_ROOT / "cgroup.controllers").exists():
                path = CGROUP_ROOT / name
                path.mkdir()
                (path / "memory.max").write_text(limit)
                swap = path / "memory.swap.max"
                if swap.exists():
                    swap.write_text("0")
                return cls(path, 2, limit_mb)
            path = CGROUP_ROOT / "memory" / name
            path.mkdir()
            (path / "memory.limit_in_bytes").write_text(limit)
            return cls(path, 1, limit_mb)
        except OSError as exc:
            raise MemoryLimitUnavailable(
                f"cannot create a memory cgroup under {CGROUP_ROOT} ({exc.strerror}); "
                "run as root on Linux, or leave out --memory-limit-mb"
            ) from None

    def enter(self) -> None:
        """Move the calling process into the cgroup (use as a subprocess preexec_fn)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def peak_mb(self) -> float | None:
        """Return the cgroup's peak memory use (RSS plus page cache) in MiB."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((self.path / name).read_text()) / 2**20
        except (OSError, ValueError):
            return None

    def oom_killed(self) -> bool:
        """Return whether the kernel killed a process of the cgroup for memory."""
        try:
            if self.version == 2:
                events = (self.path / "memory.events").read_text().split()
                return int(events[events.index("oom_kill") + 1]) > 0
            control = (self.path / "memory.oom_control").read_text().split()
            return "oom_kill" in control and int(control[control.index("oom_kill") + 1]) > 0
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        """Remove the cgroup (its processes have exited)."""
        with contextlib.suppress(OSError):
            self.path.rmdir()
