"""`pii migrate`: a changed policy rewrites every stored value (deleted rows and the row
history too) in one commit; impossible moves are refused; a stopped run is finished."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import shutil
import uuid

import pytest
from deltalake import DeltaTable

from bronze_sync.bronze.row_metadata import hashed_columns
from bronze_sync.checkpoints import find_checkpoint
from bronze_sync.errors import BronzeError, ConfigError, InjectedFaultError
from bronze_sync.faults import FAULT_ENV
from bronze_sync.history.backfill import backfill_history
from bronze_sync.history.columns import history_uri
from bronze_sync.metadata.audit import RunInfo
from bronze_sync.metadata.schemas import PII_VAULT, SYNC_AUDIT_LOG
from bronze_sync.pii.migrate import execute_migration, plan_migration
from bronze_sync.pii.vault import reveal
from bronze_sync.rollback.request import RollbackValidationError, validate_rollback
from bronze_sync.rows.record_hash import record_hashes
from bronze_sync.validation import evaluate_table
from bronze_sync_tests.pii.test_pii_protection import BIRTHDAYS, EMAILS, PHONES, _contact, _set
from bronze_sync_tests.rollback.scenario import checkpoint

CLEAR_VALUES = [*EMAILS, *PHONES, *BIRTHDAYS]
NEW = {"email": "hash", "phone": "mask", "birthday": "drop"}


def _hash(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def _synced(pg_engine, pg_schema, make_config, harness_for, **settings):
    """Return (source, harness) of a clear contact table with an update and a delete."""
    contact = _contact(pg_engine, pg_schema)
    contact.insert_ids(["c"])
    h = harness_for(make_config([contact.config(max_delete_fraction=1, **settings)]))
    h.sync()
    _set(contact, "a", email="ada.king@example.org")
    contact.delete(["c"])
    h.sync()
    checkpoint(h, "before_migration")
    return contact, h


def _migrate(h, env):
    run = RunInfo(run_id=f"test-{uuid.uuid4()}", pipeline_name="pii_migrate")
    return execute_migration(h.store, h.meta, h.config.tables[0], env, run)


def _history(h) -> list[dict]:
    return DeltaTable(history_uri(h.store, "contact")).to_pyarrow_table().to_pylist()


def _failed_checks(h) -> list[tuple[str, str]]:
    results = evaluate_table(h.store, h.meta, h.config.tables[0], h.now or _now())
    return [(c.check, c.message) for c in results if not c.passed and not c.skipped]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_clear_columns_migrate_to_hash_mask_and_drop_in_one_commit_history_included(
    pg_engine, pg_schema, make_config, harness_for, pii_key, run, monkeypatch
):
    contact, h = _synced(pg_engine, pg_schema, make_config, harness_for)
    before = h.delta().version()
    h2 = harness_for(make_config([contact.config(max_delete_fraction=1, pii=NEW)]))
    with pytest.raises(ConfigError, match="pii migrate --table contact"):
        h2.sync()  # refused until migrated

    dry = run("pii", "migrate", "--config", h2.config.file, "--table", "contact")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "email: clear -> hash" in dry.stdout and "birthday: clear -> drop" in dry.stdout
    assert "rewrite 3 rows in" in dry.stdout and "Dry run" in dry.stdout
    assert h2.delta().version() == before  # the dry run wrote nothing

    done = run("pii", "migrate", "--config", h2.config.file, "--table", "contact", "--execute")
    assert done.returncode == 0, done.stdout + done.stderr
    assert h2.delta().version() == before + 1  # one commit
    rows = {r["id"]: r for r in h2.bronze().to_pylist()}
    assert rows["a"]["email"] == _hash(pii_key, "ada.king@example.org")
    assert rows["b"]["phone"] == "+4************99"
    assert "birthday" not in rows["a"]
    assert rows["c"]["IsDeleted"] and rows["c"]["email"] is None  # the deleted row too
    assert rows["c"]["SyncOperation"] == "DELETE"  # sync state untouched
    images = _history(h2)
    assert images and not [v for v in CLEAR_VALUES if v in str(images)]
    assert {r["email"] for r in images if r["id"] == "a"} == {
        _hash(pii_key, EMAILS[0]),
        _hash(pii_key, "ada.king@example.org"),
    }
    assert not _failed_checks(h2)
    audit = [r for r in h2.meta.rows(SYNC_AUDIT_LOG) if r["Operation"] == "PiiMigrate"]
    assert audit[0]["DeltaVersion"] == before + 1 and "until VACUUM" in audit[0]["Notes"]

    _set(contact, "b", email="grace.h@example.org")
    assert h2.sync().updated == 1  # syncs go on under the new policy
    assert h2.bronze().to_pylist()[1]["email"] == _hash(pii_key, "grace.h@example.org")
    assert not _failed_checks(h2)
    with pytest.raises(RollbackValidationError, match="migrated its PII columns"):
        validate_rollback(h2.store, find_checkpoint(h2.meta, "before_migration"), None)


def test_tokenize_then_hash_uses_the_vault_and_forgets_its_entries(
    pg_engine, pg_schema, make_config, harness_for, vault_key, monkeypatch
):
    contact, _ = _synced(pg_engine, pg_schema, make_config, harness_for)
    tokenized = harness_for(
        make_config([contact.config(max_delete_fraction=1, pii={"email": "tokenize"})])
    )
    outcome = _migrate(tokenized, os.environ)
    assert outcome.tokens_stored == 3  # every value bronze and its history held
    token = tokenized.bronze().to_pylist()[0]["email"]
    assert (
        reveal(tokenized.meta, "contact", "email", token, vault_key.encode())
        == "ada.king@example.org"
    )

    hashed = harness_for(
        make_config([contact.config(max_delete_fraction=1, pii={"email": "hash"})])
    )
    assert [
        line for line in plan_migration(hashed.store, hashed.meta, hashed.config.tables[0]).lines()
    ]
    outcome = _migrate(hashed, os.environ)
    assert outcome.tokens_forgotten == {"email": 3}
    assert hashed.bronze().to_pylist()[0]["email"] == _hash(
        os.environ["BRONZE_PII_KEY"], "ada.king@example.org"
    )
    assert not [r for r in hashed.meta.rows(PII_VAULT) if r["ColumnName"] == "email"]
    assert not [r for r in _history(hashed) if str(r["email"]).startswith("tok_")]
    assert not _failed_checks(hashed)


def test_hash_back_to_clear_cannot_be_migrated_exit_2_nothing_written(
    pg_engine, pg_schema, make_config, harness_for, pii_key, run
):
    contact = _contact(pg_engine, pg_schema)
    h = harness_for(make_config([contact.config(pii={"email": "hash"})]))
    h.sync()
    version = h.delta().version()
    clear = make_config([contact.config()])
    done = run("pii", "migrate", "--config", clear.file, "--table", "contact", "--execute")
    assert done.returncode == 2
    assert "email: hash -> clear" in done.stdout + done.stderr
    assert h.delta().version() == version


def test_a_migration_stopped_after_its_commit_blocks_syncs_until_finished(
    pg_engine, pg_schema, make_config, harness_for, pii_key, monkeypatch
):
    contact, _ = _synced(pg_engine, pg_schema, make_config, harness_for)
    h2 = harness_for(make_config([contact.config(max_delete_fraction=1, pii=NEW)]))
    monkeypatch.setenv(FAULT_ENV, "after_pii_commit:raise")
    with pytest.raises(InjectedFaultError):
        _migrate(h2, os.environ)
    monkeypatch.delenv(FAULT_ENV)
    migrated = h2.delta().version()
    with pytest.raises(BronzeError, match="pii migrate --table contact --execute"):
        h2.sync()
    assert h2.delta().version() == migrated  # the refused sync wrote nothing

    outcome = _migrate(h2, os.environ)
    assert outcome.plan.finishing is not None and outcome.version == migrated
    assert outcome.history_rewritten
    assert not [v for v in CLEAR_VALUES if v in str(_history(h2))]
    assert h2.sync().committed is False
    assert not _failed_checks(h2)


def test_a_sync_recovered_after_a_crash_keeps_the_policy_its_commit_was_written_under(
    pg_engine, pg_schema, make_config, harness_for, pii_key, monkeypatch
):
    contact, h = _synced(pg_engine, pg_schema, make_config, harness_for)
    _set(contact, "b", email="grace.h@example.org")
    monkeypatch.setenv(FAULT_ENV, "after_commit:raise")
    with pytest.raises(InjectedFaultError):
        h.sync()
    monkeypatch.delenv(FAULT_ENV)
    h2 = harness_for(make_config([contact.config(max_delete_fraction=1, pii=NEW)]))
    with pytest.raises(ConfigError, match="email: clear -> hash"):
        h2.sync()  # recovery recorded the commit's (clear) policy, not today's config
    assert h2.state()["PiiPolicy"] == "{}"


def test_record_hash_follows_migrated_values_and_backfill_never_rebuilds_older_versions(
    pg_engine, pg_schema, make_config, harness_for, pii_key
):
    contact, h = _synced(
        pg_engine, pg_schema, make_config, harness_for, metadata_columns=["record_hash"]
    )
    shutil.rmtree(history_uri(h.store, "contact"))  # a table whose history was never kept
    hashed = harness_for(
        make_config(
            [
                contact.config(
                    max_delete_fraction=1, metadata_columns=["record_hash"], pii={"email": "hash"}
                )
            ]
        )
    )
    outcome = _migrate(hashed, os.environ)
    assert not outcome.history_rewritten
    bronze = hashed.bronze()
    data = bronze.select(hashed_columns(bronze.column_names, ["record_hash"]))
    expected = record_hashes(data, data.column_names).to_pylist()
    assert bronze.column("record_hash").to_pylist() == expected

    report = backfill_history(hashed.store, "contact", ["id"])
    assert report.lost is not None and report.lost[1] == outcome.version - 1
    assert not [v for v in CLEAR_VALUES if v in str(_history(hashed))]
