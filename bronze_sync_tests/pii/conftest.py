"""Fixtures of the PII tests: a hashing key in the environment and the CLI runner."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bronze_sync_tests.cli_runner import Done, cli_runner

KEY = "k" * 16 + "0123456789abcdef0123456789abcdef"


@pytest.fixture
def pii_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Set BRONZE_PII_KEY for the test; return it."""
    monkeypatch.setenv("BRONZE_PII_KEY", KEY)
    return KEY


VAULT_KEY = "v" * 16 + "fedcba9876543210fedcba9876543210"


@pytest.fixture
def vault_key(monkeypatch: pytest.MonkeyPatch, pii_key: str) -> str:
    """Set BRONZE_PII_VAULT_KEY (and the hashing key) for the test; return it."""
    monkeypatch.setenv("BRONZE_PII_VAULT_KEY", VAULT_KEY)
    return VAULT_KEY


@pytest.fixture
def run(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, dagster_home: str
) -> Callable[..., Done]:
    """Return a function that runs `bronze-sync` and captures file descriptors 1 and 2 too."""
    return cli_runner(capfd, monkeypatch)
