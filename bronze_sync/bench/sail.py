"""A local Sail Spark Connect server for the benchmark's spark engine, in its own process.

The server runs in a child process so that its CPU time and peak memory are measured apart
from the Dagster-side client's (the worker running the sync). The child stops when the
parent closes its stdin, or dies: it never outlives the benchmark.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

READY_PREFIX = "sail listening at "
STOP_SECONDS = 10.0


@dataclass
class SailServer:
    """A running local Sail server: its address and what its process has used."""

    process: subprocess.Popen[str]
    remote: str

    @property
    def cores(self) -> int:
        """Return how many cores the server may use (every core of this machine)."""
        return os.cpu_count() or 1

    def reset_peak(self) -> None:
        """Start a new peak-memory measurement of the server (Linux; no-op elsewhere)."""
        with suppress(OSError):
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def usage(self) -> dict[str, float | None]:
        """Return the server's CPU seconds so far and its peak RSS since the last reset (MB)."""
        return {
            "cpu_seconds": _cpu_seconds(self.process.pid),
            "peak_mb": _peak_mb(self.process.pid),
        }


@contextmanager
def sail_server() -> Iterator[SailServer]:
    """Start a local Sail server on a free port; stop it on exit, also after a failure."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bronze_sync.bench.sail"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        # Sail logs every session at INFO; the benchmark's output is its tables.
        env={**os.environ, "PYTHONUNBUFFERED": "1", "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith(READY_PREFIX):
            raise RuntimeError(f"the local Sail server did not start (exit {process.poll()})")
        yield SailServer(process, line.removeprefix(READY_PREFIX))
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[str]) -> None:
    """Ask the server to stop (close its stdin); kill it when it does not within seconds."""
    try:
        if process.stdin:
            process.stdin.close()
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    finally:
        if process.stdout:
            process.stdout.close()


def _cpu_seconds(pid: int) -> float | None:
    """Return user + system CPU seconds of process `pid` (None when /proc is unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def _peak_mb(pid: int) -> float | None:
    """Return the peak resident memory (VmHWM) of process `pid` in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def main() -> None:
    """Serve Spark Connect on a free local port until stdin closes."""
    from pysail.spark import SparkConnectServer  # type: ignore[import-untyped]

    # Only the address goes to the parent's pipe (nobody drains it afterwards): the
    # server's own output goes to stderr.
    ready = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    server: Any = SparkConnectServer(ip="127.0.0.1", port=0)
    server.start(background=True)
    host, port = server.listening_address
    with ready:
        ready.write(f"{READY_PREFIX}sc://{host}:{port}\n")
    try:
        sys.stdin.read()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
