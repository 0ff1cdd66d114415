"""How much of Dagster's own output reaches the terminal (the global -v/--verbose flag)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_state: dict[str, Any] = {"verbose": False, "log_file": None}


def set_verbose(verbose: bool) -> None:
    """Set whether Dagster's logs and Python tracebacks are shown."""
    _state["verbose"] = verbose


def is_verbose() -> bool:
    """Return True when -v/--verbose was given."""
    return _state["verbose"]


def set_log_file(path: Path | None) -> None:
    """Set the file Dagster's console output is appended to when -v is not given."""
    _state["log_file"] = path


def dagster_log_config() -> dict[str, Any]:
    """Return the run config of Dagster's console logger (INFO: the terminal or the log file)."""
    return {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@contextlib.contextmanager
def dagster_output_hidden() -> Iterator[None]:
    """Send what Dagster and its step processes write to stderr to the log file (unless -v).

    Step processes inherit file descriptor 2 and print engine events and warnings there; the
    command prints its own tables and one-line outcomes instead. Every event is also stored
    in the instance's event log (the Dagster UI shows them).
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
    target = _state["log_file"] or os.devnull
    null = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(null, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
