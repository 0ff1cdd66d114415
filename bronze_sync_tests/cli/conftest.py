"""Run `bronze-sync` commands in this process, as a shell would, and capture their output."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pytest

from bronze_sync.cli import main
from bronze_sync.config import CONFIG_ENV


class Done(NamedTuple):
    """What one command printed and returned."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(capsys, monkeypatch, dagster_home) -> Callable[..., Done]:
    """Return a function that runs the CLI with the given arguments."""
    monkeypatch.setenv(CONFIG_ENV, "unset")  # the job runner sets it; restored afterwards

    def invoke(*args: str) -> Done:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        out = capsys.readouterr()
        return Done(exit_.value.code, out.out, out.err)

    return invoke
