"""The storage account key never shows: not in logs, output, metadata, checkpoints or errors."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import urllib.parse
from pathlib import Path

import pytest

from bronze_sync.checkpoints import list_checkpoints
from bronze_sync.checkpoints.lifecycle import validate_active_checkpoints
from bronze_sync.errors import BronzeError
from bronze_sync.maintenance import MaintenanceRequest, run_maintenance
from bronze_sync.metadata import RunInfo
from bronze_sync.metadata.schemas import SCHEMAS
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.monitoring.publish import publish_report
from bronze_sync.purge import PurgeRequest, run_purge
from bronze_sync_tests.helpers import years_ago
from bronze_sync_tests.rollback.scenario import Alerts, checkpoint, rollback

pytestmark = pytest.mark.slow  # in-process Dagster runs of the CLI

KEY_ENV = "BRONZE_TEST_AZURE_KEY"
WRONG_KEY = base64.b64encode(b"a wrong key that is a secret as well" * 2).decode()


def forms(secret: str) -> list[str]:
    """Return the ways a base64 key could be written: as is, URL-quoted, as its bytes."""
    return [secret, urllib.parse.quote(secret, safe=""), base64.b64decode(secret).hex()]


def leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


def test_account_key_stays_out_of_logs_metadata_checkpoints_blobs_and_errors(
    account,
    azurite,
    secret_bronze,
    make_config,
    harness_for,
    run,
    dagster_home,
    monkeypatch,
    caplog,
    capfd,
):
    caplog.set_level(logging.DEBUG)
    key = azurite.account("bronzesecret").key
    secrets = forms(key) + forms(WRONG_KEY)
    monkeypatch.setenv(KEY_ENV, key)
    bronze = secret_bronze
    options = {**bronze.options, "azure_storage_account_key": "${" + KEY_ENV + "}"}
    config = make_config(
        [account.config(max_delete_fraction=0.5)],
        bronze={"path": bronze.uri, "storage_options": options},
    )
    assert key not in Path(config.file).read_text()  # the file names the variable only
    h = harness_for(config)
    assert h.store.storage_options["azure_storage_account_key"] == key  # expanded, in use
    h.alerts = Alerts()
    errors: list[str] = []

    account.insert_ids([f"old{i}" for i in range(4)], created=years_ago(7))
    account.insert_ids([f"new{i}" for i in range(8)])
    h.sync()
    checkpoint(h, "before_purge")
    run_purge(
        h.config,
        h.store,
        PurgeRequest(purge_date=years_ago(5).date(), tables=("account",)),
        RunInfo("purge-run", "purge_metadata_update"),
        dt.datetime.now(dt.UTC),
        h.alerts,
    )
    account.purge_before(years_ago(5))
    h.sync()
    validate_active_checkpoints(h.meta, h.store, dt.datetime.now(dt.UTC), notifier=h.alerts)
    errors += [str(a.subject) + str(a.body) for a in h.alerts.sent]
    plan = rollback(h, "before_purge")
    errors.append(plan.plan.report.to_markdown())
    run_maintenance(
        h.config, h.store, MaintenanceRequest(), now=dt.datetime.now(dt.UTC), notifier=h.alerts
    )
    errors.append(publish_report(h.config, dt.datetime.now(dt.UTC).date(), email=False).markdown)

    monkeypatch.setenv(KEY_ENV, WRONG_KEY)  # a rotated key nobody told bronze_sync about
    wrong = harness_for(
        make_config([account.config()], bronze={"path": bronze.uri, "storage_options": options})
    )
    with pytest.raises(BronzeError) as failure:
        wrong.sync()
    errors += [str(failure.value), repr(failure.value)]
    monkeypatch.setenv(KEY_ENV, key)
    captured = capfd.readouterr()  # what the domain runs printed (the CLI runs reset it)
    errors.append(captured.out + captured.err)

    done = [
        run("sync", "--config", config.file, "--partition", "2026-11-24"),
        run("status", "--config", config.file),
        run("checkpoints", "--config", config.file),
    ]
    assert done[0].returncode == 0, done[0].stdout[-3000:] + done[0].stderr[-3000:]
    monkeypatch.setenv(KEY_ENV, WRONG_KEY)
    done.append(run("sync", "--config", config.file, "--partition", "2026-11-25"))
    assert done[-1].returncode == 1 and bronze.uri in done[-1].stdout + done[-1].stderr
    errors += [d.stdout + d.stderr for d in done]

    assert leaks(caplog.text, secrets) == []
    assert leaks("\n".join(errors), secrets) == []
    meta = MetadataStore(h.store)
    for name in SCHEMAS:
        assert leaks(repr(meta.rows(name)), secrets) == [], name
    notes = [c.notes or "" for c in list_checkpoints(h.meta, include_inactive=True)]
    assert len(notes) >= 3 and leaks("\n".join(notes), secrets) == []
    for blob in bronze.blobs():  # logs, data files, reports: nothing stored holds the key
        assert leaks(bronze.read(blob).decode("latin-1"), secrets) == [], blob
    for path in Path(dagster_home).rglob("*"):  # Dagster's run and event storage
        if path.is_file():
            assert leaks(path.read_bytes().decode("latin-1"), secrets) == [], path
