"""Log retention: old DataValidation and AlertLog rows go; SyncAuditLog loses a sealed prefix."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from bronze_sync.alerts import Alert, Severity
from bronze_sync.alerts.dedup import ALERT_LOG, log_alert
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config.loader import parse_config
from bronze_sync.errors import AuditChainError, ConfigError
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.metadata.audit import (
    AuditEntry,
    ValidationRecord,
    write_audit,
    write_validation,
)
from bronze_sync.metadata.audit_verify import verify_chain
from bronze_sync.metadata.chain_floor import RETENTION_OPERATION
from bronze_sync.metadata.log_retention import trim_logs
from bronze_sync.metadata.schemas import DATA_VALIDATION, SCHEMAS, SYNC_AUDIT_LOG
from bronze_sync.validation import evaluate_table
from bronze_sync_tests.helpers import PgTable

NOW = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)
RUN = RunInfo(run_id="retention")
DAYS = {SYNC_AUDIT_LOG: 30, DATA_VALIDATION: 30, ALERT_LOG: 30}


def _history(meta: MetadataStore) -> None:
    """Write 3 audit rows, a validation and an alert 40 days ago, and the same 2 days ago."""
    for age in (40, 2):
        when = NOW - dt.timedelta(days=age)
        entries = [AuditEntry(f"Op{i}", "account", when) for i in range(3)]
        write_audit(meta, RUN, entries, when)
        write_validation(
            meta, RUN, [ValidationRecord("account", "DailySync", True, 1, 1, 0, 0)], when
        )
        alert = Alert(Severity.LOW, f"alert {age}", "body", job="j", tables=("account",))
        log_alert(meta, alert, when, ["log"], False)


def _log(meta: MetadataStore) -> list[dict]:
    return sorted(meta.rows(SYNC_AUDIT_LOG), key=lambda r: r["ChainSeq"])


def test_old_rows_go_and_the_trimmed_chain_still_verifies(tmp_path):
    meta = MetadataStore(BronzeStore(str(tmp_path)))
    _history(meta)
    assert trim_logs(meta, RUN, NOW, DAYS, dry_run=True) == {
        SYNC_AUDIT_LOG: 3,
        DATA_VALIDATION: 1,
        ALERT_LOG: 1,
    }
    assert len(_log(meta)) == 6  # the dry run removed nothing

    assert trim_logs(meta, RUN, NOW, DAYS)[SYNC_AUDIT_LOG] == 3
    log = _log(meta)
    assert [r["ChainSeq"] for r in log] == [3, 4, 5, 6]
    assert log[-1]["Operation"] == RETENTION_OPERATION and '"floor_seq": 2' in log[-1]["Notes"]
    assert len(meta.rows(DATA_VALIDATION)) == 1 and len(meta.rows(ALERT_LOG)) == 1
    report = verify_chain(meta)
    assert report.ok, report.problem
    write_audit(meta, RUN, [AuditEntry("After", "account", NOW)], NOW)
    assert verify_chain(meta).ok  # appends link on after a trim

    kept = _log(meta)
    gone = [r for r in kept if r["ChainSeq"] != 3]  # the first row above the floor removed
    write_deltalake(
        meta.uri(SYNC_AUDIT_LOG),
        pa.Table.from_pylist(gone, schema=SCHEMAS[SYNC_AUDIT_LOG]),
        mode="overwrite",
    )
    broken = verify_chain(meta)
    assert not broken.ok and "removed before it" in broken.problem


def test_a_broken_chain_is_never_trimmed(tmp_path):
    meta = MetadataStore(BronzeStore(str(tmp_path)))
    _history(meta)
    rows = _log(meta)
    rows[4]["Notes"] = "edited"
    write_deltalake(
        meta.uri(SYNC_AUDIT_LOG),
        pa.Table.from_pylist(rows, schema=SCHEMAS[SYNC_AUDIT_LOG]),
        mode="overwrite",
    )
    with pytest.raises(AuditChainError, match="not trimmed"):
        trim_logs(meta, RUN, NOW, {SYNC_AUDIT_LOG: 30})
    assert len(_log(meta)) == 6


def test_versions_older_than_the_trimmed_audit_need_no_audit_row(
    pg_engine, pg_schema, make_config, harness_for
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    h = harness_for(make_config([account.config()]))
    h.sync()
    account.insert_ids(["c"])
    h.sync()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    assert trim_logs(h.meta, RUN, later, {SYNC_AUDIT_LOG: 30})[SYNC_AUDIT_LOG] > 0
    checks = evaluate_table(h.store, h.meta, h.config.tables[0], later, ["audit_complete"])
    assert checks[0].passed, checks[0].message
    assert verify_chain(h.meta).ok


def test_a_sync_audit_retention_under_30_days_is_a_config_error():
    text = (
        "source: {kind: sql, url: 'sqlite:///x.db'}\nbronze: {path: /tmp/b}\n"
        "log_retention: {SyncAuditLog: 10}\n"
        "tables: [{name: a, source: a, primary_key: id}]\n"
    )
    with pytest.raises(ConfigError, match=r"log_retention\.SyncAuditLog"):
        parse_config(text, {})
