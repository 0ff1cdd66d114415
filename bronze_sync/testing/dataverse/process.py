"""`EmulatorProcess`: the Dataverse emulator in a child process, driven over a pipe.

A benchmark that serves the emulator from threads of its own process cannot tell the
client's CPU from the server's; in a child process `time.process_time()` of the parent is
the client's alone.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from bronze_sync.testing.children import default_signals, stop_child
from bronze_sync.testing.dataverse.server import DataverseEmulator

Setup = Callable[[DataverseEmulator], None]
START_TIMEOUT = 600.0  # seconds: generating a few hundred thousand rows takes a while
STOP_TIMEOUT = 10.0


class EmulatorProcess:
    """Run a `DataverseEmulator` in a spawned process; update rows and count its requests.

    `setup` must be picklable (a module-level function or a `functools.partial` of one):
    the child calls it with the started emulator to add entities and rows.
    """

    def __init__(self, setup: Setup, latency: float = 0.0) -> None:
        self._setup, self._latency = setup, latency
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._connection: dict[str, str] = {}
        self.pid = 0

    def start(self) -> EmulatorProcess:
        """Spawn the child, wait until it serves, and remember its connection settings."""
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=serve, args=(child, self._setup, self._latency), daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        try:
            self._connection, self.pid = self._reply(START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def connection(self) -> dict[str, str]:
        """Return what a client needs to connect (URLs, credentials, CA file), by config key."""
        return dict(self._connection)

    def update(self, entity: str, changes: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Update rows (key, values); their modifiedon becomes now."""
        self._call("update", entity, list(changes))

    def request_count(self, contains: str = "") -> int:
        """Return how many Web API requests whose path contains `contains` were answered."""
        count: int = self._call("requests", contains)
        return count

    def cpu_seconds(self) -> float:
        """Return the CPU seconds the emulator process has used so far (all its threads)."""
        seconds: float = self._call("cpu")
        return seconds

    def stop(self) -> None:
        """Ask the child to stop; terminate it if it does not exit in time."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            with contextlib.suppress(OSError):  # the child may already be gone
                conn.send(("stop",))
        if process is not None:
            process.join(STOP_TIMEOUT)
            stop_child(process, STOP_TIMEOUT)
        if conn is not None:
            conn.close()

    def __enter__(self) -> EmulatorProcess:
        return self.start() if self._process is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call(self, *command: Any) -> Any:
        if self._conn is None:
            raise RuntimeError("the emulator process is not running")
        self._conn.send(command)
        return self._reply(STOP_TIMEOUT * 6)

    def _reply(self, timeout: float) -> Any:
        """Return the child's answer; raise its error, or when it died or stayed silent."""
        assert self._conn is not None and self._process is not None
        waited = 0.0
        while not self._conn.poll(0.5):
            waited += 0.5
            if not self._process.is_alive():
                raise RuntimeError(f"the emulator process exited ({self._process.exitcode})")
            if waited >= timeout:
                raise TimeoutError(f"the emulator process did not answer in {timeout:g}s")
        status, value = self._conn.recv()
        if status == "error":
            raise RuntimeError(f"the emulator process failed:\n{value}")
        return value


def serve(conn: Connection, setup: Setup, latency: float) -> None:
    """Start an emulator, report (connection, pid), then answer commands until 'stop'."""
    default_signals()
    try:
        emulator = DataverseEmulator().start()
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        raise
    try:
        try:
            setup(emulator)
            emulator.latency = latency
            # The rows live as long as the process: leave them out of every garbage
            # collection (a full one walked all of them, in the middle of some request).
            gc.freeze()
        except Exception:
            conn.send(("error", traceback.format_exc()))
            return
        conn.send(("ok", (emulator.connection(), os.getpid())))
        while True:
            try:
                command = conn.recv()
            except EOFError:  # the parent went away
                return
            if command[0] == "stop":
                return
            try:
                conn.send(("ok", _run(emulator, command)))
            except Exception:
                conn.send(("error", traceback.format_exc()))
    finally:
        emulator.stop()
        conn.close()


def _run(emulator: DataverseEmulator, command: tuple[Any, ...]) -> Any:
    """Carry out one command of the parent."""
    name, *args = command
    if name == "update":
        entity, changes = args
        for key, values in changes:
            emulator.update(entity, key, **values)
        return None
    if name == "requests":
        return len(emulator.api_requests(args[0]))
    if name == "cpu":
        return time.process_time()
    raise ValueError(f"unknown command {name!r}")
