"""Fixtures of the CLI tests: commands run in this process, their Python output captured."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bronze_sync_tests.cli_runner import Done, cli_runner


@pytest.fixture
def run(capsys, monkeypatch, dagster_home) -> Callable[..., Done]:
    """Return a function that runs the CLI with the given arguments."""
    return cli_runner(capsys, monkeypatch)
