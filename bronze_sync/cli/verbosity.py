"""How much of Dagster's own output reaches the terminal (the global -v/--verbose flag)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

_state = {"verbose": False}


def set_verbose(verbose: bool) -> None:
    """Set whether Dagster's logs and Python tracebacks are shown."""
    _state["verbose"] = verbose


def is_verbose() -> bool:
    """Return True when -v/--verbose was given."""
    return _state["verbose"]


def dagster_log_config(quiet_level: str = "CRITICAL") -> dict[str, Any]:
    """Return the run config of Dagster's console logger: INFO with -v, else `quiet_level`."""
    level = "INFO" if is_verbose() else quiet_level
    return {"loggers": {"console": {"config": {"log_level": level}}}}


@contextlib.contextmanager
def dagster_output_hidden() -> Iterator[None]:
    """Send what Dagster and its step processes write to stderr to /dev/null (unless -v).

    Step processes inherit file descriptor 2 and print engine events and warnings there
    whatever the logger level; the command prints its own one-line outcome instead. Every
    event is still stored in the instance's event log (the Dagster UI shows them).
    """
    if is_verbose():
        yield
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to hide
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
