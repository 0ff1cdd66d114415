"""PII is protected before anything is staged: hash (joinable), mask, drop; clear values never
land in bronze, history, metadata, staging, logs or Dagster's event storage."""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from deltalake import DeltaTable

from bronze_sync.config.loader import parse_config
from bronze_sync.errors import ConfigError
from bronze_sync.staging import StagingArea
from bronze_sync_tests.helpers import PgTable

EMAILS = ["ada@example.org", "grace@example.org"]
PHONES = ["+44 113 496 0000", "+44 113 496 0999"]
BIRTHDAYS = ["1815-12-10", "1906-12-09"]


def _contact(pg_engine, pg_schema, name: str = "contact") -> PgTable:
    table = PgTable(pg_engine, pg_schema, name)
    for column in ("email", "phone", "birthday"):
        table.execute(f'alter table "{pg_schema}"."{name}" add column {column} text')
    table.insert_ids(["a", "b"])
    for key, email, phone, born in zip(["a", "b"], EMAILS, PHONES, BIRTHDAYS, strict=True):
        _set(table, key, email=email, phone=phone, birthday=born)
    return table


def _set(table: PgTable, key: str, **values: str) -> None:
    """Update PII columns (not in PgTable's own columns) and touch modifiedon."""
    assignments = ", ".join(f"{c} = :{c}" for c in values)
    with table.engine.begin() as conn:
        conn.execute(
            sa.text(
                f'update "{table.schema}"."{table.name}" set {assignments}, '
                "modifiedon = now() where id = :id"
            ),
            {**values, "id": key},
        )


POLICIES = {"email": "hash", "phone": "mask", "birthday": "drop"}


def _parquet_text(path: Path) -> str:
    try:
        return str(pq.read_table(path).to_pylist())
    except Exception:
        return ""


def _leaks(root: Path, clear: list[str]) -> list[str]:
    found = []
    for path in (p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        text = data.decode("utf-8", "replace") + (
            _parquet_text(path) if path.suffix == ".parquet" else ""
        )
        found += [f"{path.relative_to(root)}: {v}" for v in clear if v in text]
    return found


def test_clear_pii_never_lands_anywhere_and_hashes_join_across_tables(
    pg_engine,
    pg_schema,
    make_config,
    tmp_path,
    pii_key,
    run,
    dagster_home,
    caplog,
    capfd,
    monkeypatch,
    harness_for,
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(StagingArea, "close", lambda self: None)  # keep staged files to scan
    contact = _contact(pg_engine, pg_schema)
    lead = _contact(pg_engine, pg_schema, "lead")
    config = make_config([contact.config(pii=POLICIES), lead.config(name="lead", pii=POLICIES)])
    done = run("sync", "--config", config.file, "--partition", "2026-12-06")
    assert done.returncode == 0, done.stdout + done.stderr
    _set(contact, "a", email="ada.lovelace@example.org", phone="+44 113 496 0001")
    done = run("sync", "--config", config.file, "--partition", "2026-12-07")
    assert done.returncode == 0, done.stdout + done.stderr

    bronze_root = Path(config.bronze.path)
    contacts, leads = (_rows(bronze_root / name) for name in ("contact", "lead"))
    expected = hmac.new(pii_key.encode(), EMAILS[1].encode(), hashlib.sha256).hexdigest()
    assert contacts["b"]["email"] == leads["b"]["email"] == expected  # joinable
    assert contacts["a"]["email"] != leads["a"]["email"]  # a changed in contact only
    assert contacts["b"]["phone"] == "+4************99"
    assert "birthday" not in contacts

    # One more sync in this process, its staged files kept, to scan what staging holds.
    _set(contact, "b", email="grace.hopper@example.org", phone="+44 113 496 0002")
    assert harness_for(config).sync("contact").updated == 1
    clear = [*EMAILS, *PHONES, *BIRTHDAYS, "ada.lovelace@example.org", "+44 113 496 0001"]
    clear += ["grace.hopper@example.org", "+44 113 496 0002"]
    assert not _leaks(bronze_root, clear)  # bronze, history, metadata, checkpoints
    staged = list(Path(config.sync.staging_path).rglob("*.arrow"))
    assert staged  # the scan below reads real staged rows
    assert not _leaks(Path(config.sync.staging_path), clear)
    assert not _leaks(Path(dagster_home), clear)  # runs, event logs, compute logs
    output = done.stdout + done.stderr + caplog.text + capfd.readouterr().out
    assert not [v for v in clear if v in output]


def _rows(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in DeltaTable(str(path)).to_pyarrow_table().to_pylist()}


def test_a_hashed_key_still_detects_deletes_by_a_full_key_scan(
    pg_engine, pg_schema, make_config, harness_for, pii_key
):
    contact = _contact(pg_engine, pg_schema)
    h = harness_for(make_config([contact.config(pii={"id": "hash"}, max_delete_fraction=1)]))
    h.sync()
    contact.delete(["a"])
    result = h.sync()
    assert (result.deleted, result.key_path) == (1, "full_key_scan")
    rows = h.bronze().to_pylist()
    assert sorted(r["IsDeleted"] for r in rows) == [False, True]
    assert not {"a", "b"} & {r["id"] for r in rows}
    assert result.metadata()["pii_protected"] == {"id": "hash"}


def test_a_changed_policy_is_refused_and_writes_nothing(
    pg_engine, pg_schema, make_config, harness_for, pii_key
):
    contact = _contact(pg_engine, pg_schema)
    harness_for(make_config([contact.config(pii={"phone": "mask"})])).sync()
    h = harness_for(make_config([contact.config(pii={"phone": "hash"})]))
    version = h.delta().version()
    with pytest.raises(ConfigError, match=r"pii policy changed \(phone: mask -> hash\)"):
        h.sync()
    assert h.delta().version() == version
    unprotected = harness_for(make_config([contact.config()]))
    with pytest.raises(ConfigError, match="phone: mask -> clear"):
        unprotected.sync()


def test_a_pii_column_the_source_lacks_fails_naming_it(
    pg_engine, pg_schema, make_config, harness_for, pii_key
):
    contact = _contact(pg_engine, pg_schema)
    h = harness_for(make_config([contact.config(pii={"ssn": "hash"})]))
    with pytest.raises(ConfigError, match="pii column 'ssn' is not a column of source"):
        h.sync()
    assert h.delta() is None


@pytest.mark.parametrize(
    ("key", "message"),
    [(None, "needs the environment variable BRONZE_PII_KEY"), ("short", "is 5 bytes")],
)
def test_a_missing_or_short_key_is_a_config_error_at_load(key, message):
    text = (
        "source: {kind: sql, url: 'sqlite:///x.db'}\nbronze: {path: /tmp/b}\n"
        "tables: [{name: c, source: c, primary_key: id, pii: {email: hash}}]\n"
    )
    env = {} if key is None else {"BRONZE_PII_KEY": key}
    with pytest.raises(ConfigError, match=message):
        parse_config(text, env)
