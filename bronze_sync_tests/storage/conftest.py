"""Fixtures of the object-storage tests: bronze on Azurite (abfss://), the source in PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bronze_sync.config import Config
from bronze_sync.testing.azurite import Azurite
from bronze_sync_tests.cli_runner import Done, cli_runner
from bronze_sync_tests.conftest import Harness
from bronze_sync_tests.helpers import PgTable


class Bronze:
    """A fresh Azurite container holding bronze: its URI, storage options and container name."""

    def __init__(self, azurite: Azurite, account: str = "devstoreaccount1") -> None:
        self.azurite = azurite
        self.account = account
        self.uri, self.options = azurite.container(account=account)
        self.container = self.uri.removeprefix("abfss://").split("@", 1)[0]

    def blobs(self) -> list[str]:
        """Return the name of every blob in the container."""
        return self.azurite.list_blobs(self.container, self.account)

    def read(self, name: str) -> bytes:
        """Return one blob's content."""
        return self.azurite.read_blob(self.container, name, self.account)


@pytest.fixture
def bronze(azurite: Azurite) -> Bronze:
    """Return bronze's place in a fresh container of the development account."""
    return Bronze(azurite)


@pytest.fixture
def secret_bronze(azurite: Azurite) -> Bronze:
    """Return bronze's place in a fresh container of `bronzesecret` (a random key per session)."""
    return Bronze(azurite, account="bronzesecret")


@pytest.fixture
def az_config(make_config: Callable[..., Config], bronze: Bronze) -> Callable[..., Config]:
    """Return a factory of configs whose bronze.path is the Azurite container."""

    def factory(tables: list[dict[str, Any]], **extra: Any) -> Config:
        settings = {
            "path": bronze.uri,
            "storage_options": bronze.options,
            **extra.pop("bronze", {}),
        }
        return make_config(tables, bronze=settings, **extra)

    return factory


@pytest.fixture
def account(pg_engine: Any, pg_schema: str) -> PgTable:
    """Return an empty `account` source table."""
    return PgTable(pg_engine, pg_schema)


@pytest.fixture
def h(account: PgTable, az_config: Callable[..., Config], harness_for: Any) -> Harness:
    """Return a harness syncing `account` into bronze on Azurite."""
    return harness_for(az_config([account.config(max_delete_fraction=0.5)]))


@pytest.fixture
def run(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, dagster_home: str
) -> Callable[..., Done]:
    """Return a function that runs `bronze-sync` and captures file descriptors 1 and 2 too."""
    return cli_runner(capfd, monkeypatch)
