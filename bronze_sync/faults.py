"""Crash points for the reliability tests: `BRONZE_SYNC_FAULT=<point>[:stop]`.

A test sets the variable on a sync process; when the sync reaches that point the process
kills itself with SIGKILL, exactly as `kill -9` would, or with `:stop` freezes itself with
SIGSTOP (a paused writer, which the test later resumes with SIGCONT). With the variable
unset nothing happens. Points are where a crash leaves a different state behind.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "BRONZE_SYNC_FAULT"
POINTS = (
    "after_extract",  # changed rows staged, nothing else done
    "after_keys",  # the source key scan staged
    "before_commit",  # new data files written into the table folder, not committed
    "after_commit",  # the Delta commit landed; no metadata written yet
    "before_history",  # the history's coverage read, its append not yet committed
    "after_audit",  # every metadata row written; staging not yet removed
)


def fault_point(name: str) -> None:
    """Crash or freeze this process here when the test asked for point `name`."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    point, _, action = spec.partition(":")
    if point != name:
        return
    os.kill(os.getpid(), signal.SIGSTOP if action == "stop" else signal.SIGKILL)
