"""The Entra ID emulator answers token requests as Entra does; the gateway lists as Azure does."""

from __future__ import annotations

import base64
import json
import time

from bronze_sync.testing.blob_gateway import keep_from
from bronze_sync.testing.entra import STORAGE_SCOPE, EntraEmulator

TOKEN_PATH = "/tenant-a/oauth2/v2.0/token"


def grant(client: str = "app", secret: str = "right", scope: str = STORAGE_SCOPE) -> dict:
    return {
        "grant_type": "client_credentials",
        "client_id": client,
        "client_secret": secret,
        "scope": scope,
    }


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_right_secret_gets_a_storage_token_with_entra_claims():
    entra = EntraEmulator("tenant-a", {"app": "right"})
    status, body = entra.answer(TOKEN_PATH, grant())
    assert status == 200 and body["token_type"] == "Bearer" and entra.issued == 1
    token = claims(body["access_token"])
    assert token["aud"] == "https://storage.azure.com"
    assert token["iss"] == "https://sts.windows.net/tenant-a/" and token["appid"] == "app"
    assert token["nbf"] <= time.time() < token["exp"]


def test_wrong_secret_unknown_app_tenant_or_scope_are_refused_with_aadsts_codes():
    entra = EntraEmulator("tenant-a", {"app": "right"})
    answers = [
        entra.answer(TOKEN_PATH, grant(secret="wrong")),
        entra.answer(TOKEN_PATH, grant(client="other")),
        entra.answer("/tenant-b/oauth2/v2.0/token", grant()),
        entra.answer(TOKEN_PATH, grant(scope="https://graph.microsoft.com/.default")),
    ]
    assert [status for status, _ in answers] == [401, 400, 400, 400]
    assert [body["error"] for _, body in answers] == [
        "invalid_client",
        "unauthorized_client",
        "invalid_request",
        "invalid_request",
    ]
    assert entra.refused == ["AADSTS7000215", "AADSTS700016", "AADSTS90002", "AADSTS900144"]
    assert entra.issued == 0
    assert all("right" not in json.dumps(body) for _, body in answers)


def test_listing_keeps_blobs_from_start_from_on_inclusive():
    names = ["t/_delta_log/00.json", "t/_delta_log/01.json", "t/_delta_log/02.json"]
    blobs = "".join(f"<Blob><Name>{n}</Name><Properties/></Blob>" for n in names)
    listing = (
        f'<?xml version="1.0"?><EnumerationResults><Blobs>{blobs}</Blobs></EnumerationResults>'
    )
    kept = keep_from(listing.encode(), "t/_delta_log/01.json")
    assert kept.count(b"<Name>") == 2 and b"00.json" not in kept and b"01.json" in kept
