"""Child processes of the test servers: stoppable whatever signals the parent ignores.

A process started in the background from a non-interactive shell inherits SIGTERM (and
SIGINT) ignored. `Process.terminate()` then does nothing, and multiprocessing's exit
handler waits forever for the child: the test run hangs after its summary.
"""

from __future__ import annotations

import signal
from multiprocessing.process import BaseProcess

STOP_TIMEOUT = 10.0


def default_signals() -> None:
    """Let SIGTERM and SIGINT stop this (child) process again; call first in a child."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_child(process: BaseProcess, timeout: float = STOP_TIMEOUT) -> None:
    """Terminate a child, then kill it if it is still alive after `timeout` seconds."""
    if process.is_alive():
        process.terminate()
        process.join(timeout)
    if process.is_alive():
        process.kill()
    process.join()
