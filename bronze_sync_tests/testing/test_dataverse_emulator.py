"""The emulator speaks the Dataverse protocol: identity, OData queries, paging, changes."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import urllib.parse
from decimal import Decimal

import pytest
import requests

from bronze_sync_tests.dataverse import account_row, key, signed_in_session

API = "/api/data/v9.2"


@pytest.fixture
def client(emulator):
    session = signed_in_session(emulator)
    base = emulator.environment_url + API

    def get(path: str, prefer: str = "", **params: str):
        url = path if path.startswith("https") else f"{base}/{path}"
        query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        response = session.get(url + ("?" + query if query else ""), headers={"Prefer": prefer})
        return response, json.loads(response.text, parse_float=Decimal)

    emulator.insert(
        "account",
        [
            account_row(i, created=dt.datetime(2020 + i % 5, 1, 1, tzinfo=dt.UTC), name=f"n{i % 4}")
            for i in range(20)
        ],
    )
    emulator.update("account", key(0), name=None)
    return get


def test_discovery_and_the_token_endpoint_follow_the_identity_platform(emulator):
    session = requests.Session()
    session.trust_env, session.verify = False, emulator.ca_file
    meta = session.get(f"{emulator.authority_url}/v2.0/.well-known/openid-configuration").json()
    assert meta["token_endpoint"] == f"{emulator.authority_url}/oauth2/v2.0/token"
    bad = session.post(
        meta["token_endpoint"],
        data={
            "grant_type": "client_credentials",
            "client_id": emulator.client_id,
            "client_secret": "nope",
        },
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    anonymous = session.get(f"{emulator.environment_url}{API}/accounts")
    assert anonymous.status_code == 401 and "error" in anonymous.json()


def test_filters_order_count_and_top(client):
    _, body = client("accounts", **{"$select": "name,createdon", "$filter": "name eq 'n1'"})
    assert len(body["value"]) == 5 and set(body["value"][0]) >= {"accountid", "name", "createdon"}
    _, body = client(
        "accounts",
        **{
            "$filter": "createdon ge 2023-01-01T00:00:00Z and (name eq 'N2' or name eq null)",
            "$count": "true",
        },
    )
    # case-insensitive like Dataverse: rows 14 and 18 (row 0, null name, is from 2020)
    assert body["@odata.count"] == len(body["value"]) == 2
    _, body = client(
        "accounts", **{"$filter": "revenue gt 1234577.8901 and numberofemployees le 14"}
    )
    assert sorted(r["numberofemployees"] for r in body["value"]) == [11, 12, 13, 14]
    assert isinstance(body["value"][0]["revenue"], Decimal)
    _, body = client(
        "accounts",
        **{
            "$filter": "name ne null",
            "$orderby": "numberofemployees desc",
            "$top": "3",
            "$select": "numberofemployees",
        },
    )
    assert [r["numberofemployees"] for r in body["value"]] == [19, 18, 17]


def test_paging_follows_next_links_with_skiptokens(client):
    response, body = client("accounts", prefer="odata.maxpagesize=6", **{"$select": "name"})
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=6"
    pages, seen = 1, [r["accountid"] for r in body["value"]]
    while "@odata.nextLink" in body:
        assert "$skiptoken=" in body["@odata.nextLink"]
        _, body = client(body["@odata.nextLink"], prefer="odata.maxpagesize=6")
        pages += 1
        seen += [r["accountid"] for r in body["value"]]
    assert pages == 4 and len(set(seen)) == 20


def test_errors_use_the_dataverse_envelope(client):
    response, body = client("accounts", **{"$select": "nosuch"})
    assert response.status_code == 400 and body["error"]["code"] == "0x80060888"
    response, body = client("accounts", **{"$filter": "name eq"})
    assert response.status_code == 400 and "Syntax error" in body["error"]["message"]
    response, body = client("EntityDefinitions(LogicalName='nosuch')")
    assert response.status_code == 404 and "nosuch" in body["error"]["message"]


def test_change_tracking_returns_upserts_then_deleted_entities(emulator, client):
    tracked = "odata.track-changes,odata.maxpagesize=50"
    response, body = client("accounts", prefer=tracked, **{"$select": "name"})
    assert "odata.track-changes" in response.headers["Preference-Applied"]
    link = body["@odata.deltaLink"]
    emulator.update("account", key(3), name="changed")
    emulator.delete("account", [key(4)])
    _, delta = client(link, prefer=tracked)
    assert [r.get("name") for r in delta["value"][:1]] == ["changed"]
    assert delta["value"][1]["id"] == key(4) and delta["value"][1]["reason"] == "deleted"
    assert delta["value"][1]["@odata.context"].endswith("$deletedEntity")
    emulator.expire_change_tokens("account")
    response, expired = client(delta["@odata.deltaLink"], prefer=tracked)
    assert response.status_code == 400 and expired["error"]["code"] == "0x80044352"


def test_metadata_has_typed_casts_for_decimal_money_and_datetime(client):
    _, body = client("EntityDefinitions(LogicalName='account')")
    assert (body["EntitySetName"], body["PrimaryIdAttribute"]) == ("accounts", "accountid")
    _, money = client(
        "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.MoneyAttributeMetadata"
    )
    assert {a["LogicalName"]: a["Precision"] for a in money["value"]}["revenue"] == 4
    _, attrs = client("EntityDefinitions(LogicalName='account')/Attributes")
    lookup = next(a for a in attrs["value"] if a["LogicalName"] == "parentaccountid")
    assert lookup["AttributeType"] == "Lookup"


def test_the_standalone_emulator_prints_how_to_connect():
    process = subprocess.Popen(
        [sys.executable, "-m", "bronze_sync.testing.dataverse_emulator", "--port", "0", "--demo"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = dict(process.stdout.readline().strip().split(": ", 1) for _ in range(5))
        assert lines["environment_url"].startswith("https://127.0.0.1:")
        session = requests.Session()
        session.trust_env, session.verify = False, lines["ca_file"]
        token = session.post(
            f"{lines['authority_url']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": lines["client_id"],
                "client_secret": lines["client_secret"],
            },
        ).json()["access_token"]
        response = session.get(
            f"{lines['environment_url']}{API}/donations?$select=amount",
            headers={"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=10"},
        )
        assert response.status_code == 200 and len(response.json()["value"]) == 10
    finally:
        # SIGKILL: a server started from a background shell may ignore SIGTERM.
        process.kill()
        process.wait()
