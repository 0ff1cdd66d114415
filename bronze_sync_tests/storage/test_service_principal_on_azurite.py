"""A service principal (client id, secret, tenant) syncs bronze on Azurite over HTTPS + OAuth.

The Entra ID emulator (`bronze_sync.testing.entra`) issues the tokens over the real OAuth
client credentials exchange; Azurite (`--oauth basic`, HTTPS) accepts only bearer tokens
here, since the options hold no account key. The secret comes from a ${VAR}.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from bronze_sync.checkpoints import CheckpointType, list_checkpoints
from bronze_sync.checkpoints.lifecycle import validate_active_checkpoints
from bronze_sync.errors import BronzeError
from bronze_sync.metadata.schemas import SCHEMAS, SYNC_AUDIT_LOG
from bronze_sync.metadata.store import MetadataStore
from bronze_sync_tests.helpers import assert_bronze_invariants
from bronze_sync_tests.rollback.scenario import Alerts, checkpoint, rollback
from bronze_sync_tests.storage.conftest import SECRET_ENV

IDS = [f"k{i:02d}" for i in range(12)]


def principal_harness(account, principal, make_config, harness_for):
    config = make_config(
        [account.config(max_delete_fraction=0.5)],
        bronze={"path": principal.uri, "storage_options": principal.options},
    )
    h = harness_for(config)
    h.alerts = Alerts()
    return h


def test_service_principal_syncs_checkpoints_and_rolls_back_with_entra_tokens(
    account, principal, entra_azure, make_config, harness_for, caplog
):
    caplog.set_level(logging.DEBUG)
    h = principal_harness(account, principal, make_config, harness_for)
    issued = entra_azure.entra.issued()
    account.insert_ids(IDS)
    assert h.sync().inserted == 12
    checkpoint(h, "good")
    account.update(["k01"], name="renamed")
    account.delete(["k02", "k03"])
    daily = h.sync()
    assert (daily.updated, daily.deleted, daily.version) == (1, 2, 1)
    assert_bronze_invariants(
        h.bronze(), "id", set(account.ids()), dict.fromkeys(["k02", "k03"], "DELETE")
    )

    results = validate_active_checkpoints(h.meta, h.store, dt.datetime.now(dt.UTC))
    assert results and all(r.restorable for r in results)
    plan = rollback(h, "good")
    assert plan.dry_run and plan.plan.report.tables[0].comparison.reappearing == 2
    done = rollback(h, "good", dry_run=False, approval_token=plan.plan.token)
    assert done.success and done.post_checkpoint.type == CheckpointType.POST_ROLLBACK

    assert entra_azure.entra.issued() > issued  # the data went through Entra tokens, no key
    assert "bronze/account/_delta_log/00000000000000000002.json" in principal.blobs()
    secret = entra_azure.client_secret
    assert secret not in caplog.text
    meta = MetadataStore(h.store)
    for name in SCHEMAS:
        assert secret not in repr(meta.rows(name)), name
    notes = "\n".join(c.notes or "" for c in list_checkpoints(h.meta, include_inactive=True))
    assert secret not in notes
    for blob in principal.blobs():
        assert secret.encode() not in principal.read(blob), blob


def test_wrong_client_secret_fails_naming_entra_and_the_uri_and_keeps_bronze(
    account, principal, entra_azure, make_config, harness_for, monkeypatch
):
    h = principal_harness(account, principal, make_config, harness_for)
    account.insert_ids(IDS)
    h.sync()
    account.update(["k01"], name="renamed")
    blobs, before = principal.blobs(), h.bronze()
    audits = len(h.meta.rows(SYNC_AUDIT_LOG))

    wrong_secret = "a-rotated-secret-nobody-told-bronze-sync-about"
    monkeypatch.setenv(SECRET_ENV, wrong_secret)
    wrong = principal_harness(account, principal, make_config, harness_for)
    with pytest.raises(BronzeError) as failure:
        wrong.sync()
    text = str(failure.value)
    assert principal.uri in text and "AADSTS7000215" in text and "Entra" in text, text
    assert "\n" not in text.strip() and "\x1b" not in text
    for secret in (wrong_secret, entra_azure.client_secret):
        assert secret not in text and secret not in repr(failure.value)
    assert entra_azure.entra.refused()[-1] == "AADSTS7000215"

    assert principal.blobs() == blobs  # nothing half-written
    assert h.bronze().equals(before) and len(h.meta.rows(SYNC_AUDIT_LOG)) == audits
