"""report, demo and sync with bronze on object storage (Azurite): clear lines, nothing half-written."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from bronze_sync.testing.azurite import Azurite

WRONG_KEY = base64.b64encode(b"a key Azurite never issued").decode()


def write_config(tmp_path: Path, uri: str, options: dict[str, Any]) -> str:
    path = tmp_path / "bronze_sync.yaml"
    raw = {
        "source": {"kind": "sql", "url": f"sqlite:///{tmp_path / 'source.sqlite'}"},
        "bronze": {"path": uri, "storage_options": options},
        "sync": {"staging_path": str(tmp_path / "staging")},
        "tables": [{"name": "account", "source": "account", "primary_key": "id"}],
    }
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def container_of(uri: str) -> str:
    return uri.removeprefix("abfss://").split("@", 1)[0]


def test_report_on_abfss_bronze_writes_the_html_there(run, tmp_path, azurite: Azurite):
    uri, options = azurite.container()
    config = write_config(tmp_path, uri, options)

    done = run("report", "--config", config, "--day", "2026-12-05")

    assert done.returncode == 0, done.stderr
    assert f"Report written to {uri}/reports/health_2026-12-05.html" in done.stdout
    html = azurite.read_blob(container_of(uri), "bronze/reports/health_2026-12-05.html")
    assert html.startswith(b"<") and len(html) > 100


def test_report_with_wrong_key_fails_in_one_line_and_leaves_no_file(
    run, tmp_path, azurite: Azurite, monkeypatch
):
    uri, options = azurite.container()
    options = {**options, "azure_storage_account_key": "${BRONZE_KEY}"}
    config = write_config(tmp_path, uri, options)
    monkeypatch.setenv("BRONZE_KEY", WRONG_KEY)

    done = run("report", "--config", config, "--day", "2026-12-05")

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert uri in lines[0] and "refused the credentials" in lines[0]
    assert WRONG_KEY not in done.stderr + done.stdout
    assert azurite.list_blobs(container_of(uri)) == []


def test_report_out_writes_a_local_file_for_abfss_bronze(run, tmp_path, azurite: Azurite):
    uri, options = azurite.container()
    config = write_config(tmp_path, uri, options)
    out = tmp_path / "health.html"

    done = run("report", "--config", config, "--day", "2026-12-05", "--out", str(out))

    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("<")
    assert azurite.list_blobs(container_of(uri)) == []


def test_demo_refuses_a_uri_data_dir_and_creates_no_folder(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    done = run("demo", "--data-dir", "abfss://bronze@acct.dfs.core.windows.net/demo?sig=s3cret")

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "configuration error: --data-dir abfss://bronze@acct.dfs.core.windows.net/demo: the "
        "demo needs a local folder (its SQLite source lives there); nothing was written"
    ]
    assert list(tmp_path.iterdir()) == []


def test_sync_with_unknown_storage_option_is_refused_before_any_write(
    run, tmp_path, azurite: Azurite
):
    uri, options = azurite.container()
    config = write_config(tmp_path, uri, {**options, "azure_storage_acount_key": "x"})

    done = run("sync", "--config", config)

    assert done.returncode == 2
    assert "bronze.storage_options.azure_storage_acount_key: unknown storage option" in done.stderr
    assert azurite.list_blobs(container_of(uri)) == []  # no PipelineConfig, no metadata at all


@pytest.mark.parametrize(
    ("key", "container", "expected"),
    [
        (WRONG_KEY, None, "the storage refused the credentials"),
        (None, "no-such-container", "the container does not exist"),
    ],
)
def test_sync_against_unusable_storage_fails_in_one_line_before_any_write(
    run, tmp_path, azurite: Azurite, monkeypatch, key, container, expected
):
    uri, options = azurite.container()
    if container:
        uri = uri.replace(container_of(uri), container)
    if key:
        monkeypatch.setenv("BRONZE_KEY", key)
        options = {**options, "azure_storage_account_key": "${BRONZE_KEY}"}
    with sqlite3.connect(tmp_path / "source.sqlite") as source:
        source.execute("CREATE TABLE account (id TEXT PRIMARY KEY)")
        source.execute("INSERT INTO account VALUES ('a')")
    config = write_config(tmp_path, uri, options)

    done = run("sync", "--config", config)

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: bronze storage {uri}: cannot list: {expected}")
    assert WRONG_KEY not in done.stderr
