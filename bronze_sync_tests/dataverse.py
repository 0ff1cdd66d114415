"""Dataverse test helpers: an emulator with a small account entity, configs pointing at it."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from bronze_sync.config import Config, parse_config
from bronze_sync.testing.dataverse import DataverseEmulator
from bronze_sync.testing.dataverse.demo import account_entity
from bronze_sync_tests.helpers import NOW, years_ago

SECRET_ENV = "BRONZE_TEST_DATAVERSE_SECRET"


def account_row(index: int, created: dt.datetime | None = None, **values: Any) -> dict[str, Any]:
    """Return an account row with a stable GUID for `index`."""
    return {
        "accountid": str(uuid.UUID(int=index + 1)),
        "name": f"account {index}",
        "revenue": Decimal("1234567.8901") + index,
        "exchangerate": Decimal("1.0000000001"),
        "numberofemployees": index,
        "statecode": 0,
        "statuscode": 1,
        "msft_datastate": 0,
        "createdon": created or years_ago(1),
        **values,
    }


def key(index: int) -> str:
    """Return the accountid of row `index`."""
    return str(uuid.UUID(int=index + 1))


@pytest.fixture
def emulator() -> Iterator[DataverseEmulator]:
    """Return a running emulator serving an empty `account` entity."""
    with DataverseEmulator() as emu:
        emu.add_entity(account_entity())
        yield emu


def dataverse_config(
    emu: DataverseEmulator,
    tmp_path: Path,
    tables: list[dict[str, Any]] | None = None,
    **source: Any,
) -> Config:
    """Return a config syncing `account` from the emulator into a temp bronze folder."""
    connection = emu.connection()
    os.environ[SECRET_ENV] = connection["client_secret"]
    raw = {
        "source": {
            "kind": "dataverse",
            "environment_url": connection["environment_url"],
            "authority_url": connection["authority_url"],
            "ca_file": connection["ca_file"],
            "client_id": connection["client_id"],
            "client_secret": f"${{{SECRET_ENV}}}",
            "retry_base_seconds": 0.01,
            **source,
        },
        "bronze": {"path": str(tmp_path / "bronze")},
        "sync": {"staging_path": str(tmp_path / "staging"), "retry_delay_seconds": 0},
        "tables": tables or [account_table()],
    }
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"config-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = parse_config(path.read_text(), env=os.environ, origin=str(path))
    config._file = str(path)
    return config


def signed_in_session(emulator: DataverseEmulator) -> requests.Session:
    """Return a requests session trusting the emulator's CA and carrying a fresh token."""
    session = requests.Session()
    session.trust_env, session.verify = False, emulator.ca_file
    form = {
        "grant_type": "client_credentials",
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
        "scope": emulator.environment_url + "/.default",
    }
    token = session.post(f"{emulator.authority_url}/oauth2/v2.0/token", data=form).json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    return session


def account_table(**settings: Any) -> dict[str, Any]:
    """Return the config entry of the `account` table."""
    return {
        "name": "account",
        "source": "account",
        "primary_key": "accountid",
        "created_column": "createdon",
        "modified_column": "modifiedon",
        "max_delete_fraction": 1.0,
        **settings,
    }


__all__ = [
    "NOW",
    "account_row",
    "account_table",
    "dataverse_config",
    "emulator",
    "key",
    "signed_in_session",
]
