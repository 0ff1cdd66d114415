"""A sync against broken object storage fails with one clear error and leaves bronze as it was."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs

import pytest

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.errors import BronzeError
from bronze_sync.testing.azurite import DEV_ACCOUNT_KEY, URL_ENV

WRONG_KEY = base64.b64encode(b"a well-formed key that is not the account's" * 2).decode()


def synced_once(account, h):
    """Sync 10 rows, then change the source so that the next sync would commit."""
    account.insert_ids([f"k{i}" for i in range(10)])
    h.sync()
    account.update(["k1"], name="changed after the first sync")
    account.insert_ids(["k10"])
    return h.delta().version(), h.bronze()


def failing_sync(h):
    with pytest.raises(BronzeError) as failure:
        h.sync()
    return failure.value


def assert_clear(error, uri, reason, *secrets):
    """One plain line naming the storage URI and the reason, and no secret."""
    text = str(error)
    assert uri in text, text
    assert re.search(reason, text, re.IGNORECASE), text
    assert "\n" not in text.strip() and "\x1b" not in text, repr(text)  # no terminal codes
    for secret in secrets:
        assert secret not in text and secret not in repr(error)


def test_wrong_account_key_fails_naming_the_uri_and_keeps_bronze(
    account, h, bronze, az_config, harness_for, monkeypatch
):
    version, before = synced_once(account, h)
    blobs = bronze.blobs()
    monkeypatch.setenv("BRONZE_WRONG_KEY", WRONG_KEY)
    options = {**bronze.options, "azure_storage_account_key": "${BRONZE_WRONG_KEY}"}
    wrong = harness_for(az_config([account.config()], bronze={"storage_options": options}))
    error = failing_sync(wrong)
    assert_clear(error, bronze.uri, "credential|key", WRONG_KEY, DEV_ACCOUNT_KEY)
    assert bronze.blobs() == blobs  # nothing half-written
    assert h.delta().version() == version and h.bronze().equals(before)


def test_missing_container_fails_naming_the_uri_and_creates_nothing(
    account, az_config, harness_for, azurite
):
    uri, options = azurite.container()
    missing = uri.replace("@", "-gone@", 1)
    h = harness_for(
        az_config([account.config()], bronze={"path": missing, "storage_options": options})
    )
    account.insert_ids(["a"])
    error = failing_sync(h)
    assert_clear(error, missing, "container", DEV_ACCOUNT_KEY)
    container = missing.removeprefix("abfss://").split("@", 1)[0]
    assert container not in azurite.containers()  # the sync did not create it


def test_unreachable_endpoint_fails_naming_the_uri_and_keeps_bronze(
    account, h, bronze, monkeypatch
):
    version, before = synced_once(account, h)
    blobs = bronze.blobs()
    with monkeypatch.context() as unreachable:
        unreachable.setenv(URL_ENV, "http://127.0.0.1:9")  # the discard port: nothing listens
        error = failing_sync(h)
    assert_clear(error, bronze.uri, "reach|connect", DEV_ACCOUNT_KEY)
    assert bronze.blobs() == blobs
    assert h.delta().version() == version and h.bronze().equals(before)


def test_write_refused_after_the_probe_fails_the_sync_in_one_line_and_keeps_bronze(
    account, h, bronze, az_config, harness_for, monkeypatch, azurite
):
    """Permission lost between the access probe and the commit (a SAS rotated mid-run)."""
    version, before = synced_once(account, h)
    blobs = bronze.blobs()
    sas = azurite.account_sas("rl")  # read and list: the sync's writes are refused
    monkeypatch.setenv("BRONZE_RO_SAS", sas)
    kept = {k: v for k, v in bronze.options.items() if k != "azure_storage_account_key"}
    options = {**kept, "azure_storage_sas_token": "${BRONZE_RO_SAS}"}
    read_only = harness_for(az_config([account.config()], bronze={"storage_options": options}))
    monkeypatch.setattr(BronzeStore, "check_access", lambda self, write=True: None)

    error = failing_sync(read_only)

    assert_clear(error, bronze.uri, "may not do this", sas, parse_qs(sas)["sig"][0])
    assert "cannot sync account" in str(error) and error.__cause__ is None
    assert bronze.blobs() == blobs
    assert h.delta().version() == version and h.bronze().equals(before)
