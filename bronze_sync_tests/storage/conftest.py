"""Fixtures of the object-storage tests: bronze on Azurite (abfss://), the source in PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bronze_sync.config import Config
from bronze_sync.testing.azurite import Azurite, AzuriteError, start_azurite
from bronze_sync.testing.blob_gateway import BlobGateway, start_gateway
from bronze_sync.testing.dataverse.tls import make_certificates
from bronze_sync.testing.entra import EntraProcess, start_entra
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


TENANT = "0b6f3c1e-5d2a-4c8e-9f41-2a7d9e6b1c30"
CLIENT_ID = "6e2c8a47-bronze-sync-tests"
SECRET_ENV = "BRONZE_TEST_AZURE_CLIENT_SECRET"


@dataclass
class EntraAzure:
    """Azurite over HTTPS accepting OAuth tokens, and the Entra ID emulator that issues them."""

    azurite: Azurite
    entra: EntraProcess
    gateway: BlobGateway  # Azure's `startFrom` listing, which Azurite lacks
    client_secret: str = field(repr=False)

    def principal(self) -> Bronze:
        """Return a fresh container reached as the service principal (secret from $VAR)."""
        place = Bronze(self.azurite)
        place.options = {
            "azure_storage_account_name": place.account,
            "azure_storage_endpoint": self.gateway.endpoint(place.account),
            "azure_client_id": CLIENT_ID,
            "azure_client_secret": "${" + SECRET_ENV + "}",
            "azure_tenant_id": TENANT,
            "azure_authority_host": self.entra.authority_host,
        }
        return place


@pytest.fixture(scope="session")
def entra_azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EntraAzure]:
    """Start Azurite with HTTPS and OAuth plus an Entra token endpoint, once per session."""
    ca, cert, key = make_certificates(tmp_path_factory.mktemp("entra-tls"))
    secret = secrets.token_urlsafe(32)
    entra = start_entra(TENANT, {CLIENT_ID: secret}, (ca, cert, key))
    try:
        azurite = start_azurite(tls=(ca, cert, key))
    except AzuriteError as exc:
        entra.stop()
        pytest.fail(f"Azurite (HTTPS, OAuth) could not start: {exc}")
    gateway = start_gateway(azurite.url, (ca, cert, key))
    yield EntraAzure(azurite, entra, gateway, secret)
    gateway.stop()
    azurite.stop()
    entra.stop()


@pytest.fixture
def principal(entra_azure: EntraAzure, monkeypatch: pytest.MonkeyPatch) -> Bronze:
    """Return a container reached as the service principal; the test CA is trusted."""
    # object_store (rustls with the platform's roots) and Python read the CA from here.
    monkeypatch.setenv("SSL_CERT_FILE", str(entra_azure.azurite.ca))
    monkeypatch.setenv(SECRET_ENV, entra_azure.client_secret)
    return entra_azure.principal()


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
