"""Crash points for the reliability tests: `BRONZE_SYNC_FAULT=<point>[:stop|:raise[:N]]`.

A test sets the variable on a sync process; when the sync reaches that point the process
kills itself with SIGKILL, exactly as `kill -9` would, or with `:stop` freezes itself with
SIGSTOP (a paused writer, which the test later resumes with SIGCONT), or with `:raise`
raises InjectedFaultError there (`:raise:N`: only the first N times in this process, a
transient failure). With the variable unset nothing happens. Points are where a crash or a
failure leaves a different state behind.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

from bronze_sync.errors import InjectedFaultError

FAULT_ENV = "BRONZE_SYNC_FAULT"
SYNC_POINTS = (  # where a table sync can stop
    "after_extract",  # changed rows staged, nothing else done
    "after_keys",  # the source key scan staged
    "before_commit",  # new data files written into the table folder, not committed
    "after_commit",  # the Delta commit landed; no metadata written yet
    "before_history",  # the history's coverage read, its append not yet committed
    "after_audit",  # every metadata row written; staging not yet removed
    "checkpoint",  # about to record a synced table's Daily checkpoint (use :raise)
)
# `pii migrate` committed bronze; its history and records are not yet written.
POINTS = (*SYNC_POINTS, "after_pii_commit")
_raised: Counter[str] = Counter()


def fault_point(name: str) -> None:
    """Crash, freeze or fail this process here when the test asked for point `name`."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    point, _, action = spec.partition(":")
    if point != name:
        return
    if action.startswith("raise"):
        _raise(spec, action)
        return
    os.kill(os.getpid(), signal.SIGSTOP if action == "stop" else signal.SIGKILL)


def _raise(spec: str, action: str) -> None:
    """Raise InjectedFaultError, at most N times per spec when the action is `raise:N`."""
    _, _, limit = action.partition(":")
    if limit and _raised[spec] >= int(limit):
        return
    _raised[spec] += 1
    raise InjectedFaultError(f"injected fault at {spec.partition(':')[0]} ({_raised[spec]})")


def reset_faults() -> None:
    """Forget how often each `:raise:N` fault has raised (a test's fresh start)."""
    _raised.clear()
