"""Bronze on object storage (Azurite): whole writes, and one clear line per storage problem."""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path

import pytest

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.errors import BronzeError
from bronze_sync.testing.azurite import DEV_ACCOUNT, Azurite

WRONG_KEY = base64.b64encode(b"not the account key at all").decode()


def container_of(uri: str) -> str:
    return uri.removeprefix("abfss://").split("@", 1)[0]


def with_sas(options: dict[str, str], sas: str) -> dict[str, str]:
    kept = {k: v for k, v in options.items() if k != "azure_storage_account_key"}
    return {**kept, "azure_storage_sas_token": sas}


def test_report_sized_object_is_written_whole(azurite: Azurite):
    uri, options = azurite.container()
    store = BronzeStore(uri, options)
    html = "<html>" + "x" * 200_000 + "</html>"

    where = store.write_object("reports/health_2026-12-05.html", html.encode())

    assert where == f"{uri}/reports/health_2026-12-05.html"
    blob = "bronze/reports/health_2026-12-05.html"
    assert azurite.read_blob(container_of(uri), blob) == html.encode()


def test_access_check_passes_and_leaves_no_probe(azurite: Azurite):
    uri, options = azurite.container()

    BronzeStore(uri, options).check_access(write=True)

    assert azurite.list_blobs(container_of(uri)) == []


def test_wrong_account_key_is_one_line_naming_the_storage_without_the_key(azurite: Azurite):
    uri, options = azurite.container()
    store = BronzeStore(uri, {**options, "azure_storage_account_key": WRONG_KEY})

    with pytest.raises(BronzeError) as failed:
        store.check_access()

    message = str(failed.value)
    assert message.startswith(f"bronze storage {uri}: cannot list: the storage refused")
    assert "\n" not in message and WRONG_KEY not in message


def test_missing_container_is_named(azurite: Azurite):
    uri, options = azurite.container()
    missing = uri.replace(container_of(uri), "no-such-container")

    with pytest.raises(BronzeError, match=r"no-such-container.*the container does not exist"):
        BronzeStore(missing, options).check_access()


def test_unreachable_endpoint_is_named(azurite: Azurite):
    uri, options = azurite.container()
    options = {
        **{k: v for k, v in options.items() if k != "azure_storage_use_emulator"},
        "azure_storage_endpoint": f"http://127.0.0.1:9/{DEV_ACCOUNT}",
        "allow_http": "true",
        "max_retries": "0",
    }

    with pytest.raises(BronzeError, match="the storage endpoint cannot be reached"):
        BronzeStore(uri, options).check_access()


def test_read_only_sas_fails_the_write_probe_and_hides_the_signature(azurite: Azurite):
    uri, options = azurite.container()
    sas = azurite.account_sas("rl")
    store = BronzeStore(uri, with_sas(options, sas))
    store.check_access(write=False)  # it may list

    with pytest.raises(BronzeError) as failed:
        store.check_access(write=True)

    message = str(failed.value)
    assert "cannot write: the credentials may not do this here" in message
    assert "AuthorizationPermissionMismatch" in message
    signature = urllib.parse.parse_qs(sas)["sig"][0]
    assert signature not in message and sas not in message
    assert azurite.list_blobs(container_of(uri)) == []


def test_refused_object_write_leaves_no_empty_object(azurite: Azurite):
    uri, options = azurite.container()
    store = BronzeStore(uri, with_sas(options, azurite.account_sas("rl")))

    with pytest.raises(BronzeError, match=r"cannot write reports/r\.html"):
        store.write_object("reports/r.html", b"<html></html>")

    assert azurite.list_blobs(container_of(uri)) == []


def test_local_write_into_a_file_fails_clearly_and_leaves_nothing(tmp_path: Path):
    (tmp_path / "reports").write_text("a file where the folder should be")
    store = BronzeStore(str(tmp_path))

    with pytest.raises(BronzeError, match=r"cannot write .*reports/r.html"):
        store.write_object("reports/r.html", b"<html></html>")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]


def test_local_write_replaces_the_old_file_whole(tmp_path: Path):
    store = BronzeStore(str(tmp_path))
    store.write_object("reports/r.html", b"old")

    store.write_object("reports/r.html", b"new report")

    assert (tmp_path / "reports" / "r.html").read_bytes() == b"new report"
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["r.html"]
