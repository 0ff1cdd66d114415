"""Run `bronze-sync` commands in this process, as a shell would, and capture their output."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pytest

from bronze_sync.cli import main
from bronze_sync.config import CONFIG_ENV, PROFILE_ENV


class Done(NamedTuple):
    """What one command printed and returned."""

    returncode: int
    stdout: str
    stderr: str


def cli_runner(
    capture: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Done]:
    """Return a function that runs the CLI with the given arguments and captures its output.

    With `capfd` as `capture`, what native code prints to file descriptors 1 and 2 is
    included; with `capsys`, only what Python prints.
    """
    monkeypatch.setenv(CONFIG_ENV, "unset")  # the job runner sets it; restored afterwards
    monkeypatch.setenv(PROFILE_ENV, "")  # none; --profile exports it; restored afterwards

    def invoke(*args: str) -> Done:
        capture.readouterr()
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        out = capture.readouterr()
        return Done(int(exit_.value.code or 0), out.out, out.err)

    return invoke
