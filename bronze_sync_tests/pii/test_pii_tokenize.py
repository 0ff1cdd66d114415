"""tokenize: a deterministic token in bronze, the value encrypted in metadata/PiiVault, and
`bronze-sync pii reveal` for those who hold the vault key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bronze_sync.errors import VaultError
from bronze_sync.metadata.schemas import PII_VAULT
from bronze_sync.pii.vault import reveal
from bronze_sync_tests.pii.test_pii_protection import EMAILS, _contact, _leaks

POLICY = {"email": "tokenize", "id": "tokenize"}


def test_tokens_land_in_bronze_and_reveal_with_the_vault_key_only(
    pg_engine, pg_schema, make_config, harness_for, vault_key, run, monkeypatch
):
    contact = _contact(pg_engine, pg_schema)
    config = make_config([contact.config(pii=POLICY, max_delete_fraction=1)])
    h = harness_for(config)
    h.sync()
    rows = {r["email"]: r for r in h.bronze().to_pylist()}
    tokens = sorted(rows)
    assert all(t.startswith("tok_") for t in tokens) and len(set(tokens)) == 2
    assert not _leaks(Path(config.bronze.path), [*EMAILS, "'a'", "'b'"])  # vault holds ciphertext
    vault = h.meta.rows(PII_VAULT)
    assert {(r["ColumnName"], r["Token"]) for r in vault} >= {("email", t) for t in tokens}

    revealed = {reveal(h.meta, "contact", "email", t, vault_key.encode()) for t in tokens}
    assert revealed == set(EMAILS)
    with pytest.raises(VaultError, match="cannot decrypt"):
        reveal(h.meta, "contact", "email", tokens[0], b"x" * 40)
    with pytest.raises(VaultError, match="not in the vault"):
        reveal(h.meta, "contact", "email", "tok_nope", vault_key.encode())

    reveal_args = ["pii", "reveal", "--config", config.file, "--table", "contact"]
    reveal_args += ["--column", "email", "--token", tokens[0]]
    contact.delete(["a"])  # a tokenized key: deletes found by comparing tokens
    assert h.sync().deleted == 1

    done = run(*reveal_args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() in EMAILS
    monkeypatch.delenv("BRONZE_PII_VAULT_KEY")
    done = run(*reveal_args)
    assert done.returncode == 2 and "BRONZE_PII_VAULT_KEY" in done.stdout + done.stderr
    assert not [e for e in EMAILS if e in done.stdout + done.stderr]


def test_tokenize_without_a_vault_key_is_a_config_error_at_load(
    pg_engine, pg_schema, make_config, pii_key
):
    contact = _contact(pg_engine, pg_schema)
    with pytest.raises(
        Exception, match="pii tokenize needs the environment variable BRONZE_PII_VAULT_KEY"
    ):
        make_config([contact.config(pii={"email": "tokenize"})])
