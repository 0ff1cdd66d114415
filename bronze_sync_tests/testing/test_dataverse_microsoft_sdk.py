"""Microsoft's own Dataverse SDK for Python (PowerPlatform-Dataverse-Client) against the emulator.

A client this project did not write authenticates with azure-identity (msal underneath) at
the emulator's authority, discovers the table through EntityDefinitions, and reads every
page. The SDK has no change-tracking call, so the change-tracked read uses the SDK's own
credential for its token over plain HTTP.
"""

from __future__ import annotations

import urllib.parse

import pytest
import requests
from azure.identity import ClientSecretCredential
from PowerPlatform.Dataverse.client import DataverseClient

from bronze_sync_tests.dataverse import account_row, key


@pytest.fixture
def credential(emulator, monkeypatch):
    # requests (under msal and the SDK) trusts the emulator's CA through this variable.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_file)
    parts = urllib.parse.urlsplit(emulator.authority_url)
    return ClientSecretCredential(
        tenant_id=parts.path.strip("/"),
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        authority=f"{parts.scheme}://{parts.netloc}",
        disable_instance_discovery=True,
    )


def test_microsoft_sdk_discovers_the_table_and_reads_every_page(emulator, credential):
    emulator.insert("account", [account_row(i) for i in range(12)])
    with DataverseClient(emulator.environment_url, credential) as client:
        info = client.tables.get("account")
        assert info["entity_set_name"] == "accounts"
        assert info["primary_id_attribute"] == "accountid"
        listed = {t["LogicalName"] for t in client.tables.list(select=["LogicalName"])}
        assert "account" in listed

        pages = list(client.records.get("account", select=["accountid", "name"], page_size=5))
        assert [len(page) for page in pages] == [5, 5, 2]
        rows = {r["accountid"]: r["name"] for page in pages for r in page}
        assert rows == {key(i): f"account {i}" for i in range(12)}

        one = client.records.get("account", key(3), select=["name"])
        assert one["name"] == "account 3"
    assert len(emulator.api_requests("EntityDefinitions")) >= 2


def test_change_tracked_read_with_the_sdks_credential(emulator, credential):
    emulator.insert("account", [account_row(i) for i in range(4)])
    token = credential.get_token(emulator.environment_url + "/.default").token
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}"})
    tracked = {"Prefer": "odata.track-changes"}
    url = f"{emulator.environment_url}/api/data/v9.2/accounts?$select=name"
    first = session.get(url, headers=tracked).json()
    assert len(first["value"]) == 4

    emulator.update("account", key(1), name="renamed")
    emulator.delete("account", [key(2)])
    changes = session.get(first["@odata.deltaLink"], headers=tracked).json()["value"]
    assert {c["accountid"]: c.get("name") for c in changes if "@odata.context" not in c} == {
        key(1): "renamed"
    }
    removed = [c for c in changes if c.get("reason") == "deleted"]
    assert [c["id"] for c in removed] == [key(2)]
