"""`bronze-sync audit`: accepting lost log versions, verifying and sealing the hash chain."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.metadata.audit import AuditEntry, audit_row
from bronze_sync.metadata.schemas import SCHEMAS
from bronze_sync_tests.helpers import PgTable


def test_accepting_lost_versions_lets_the_next_sync_run(
    pg_engine, pg_schema, make_config, harness_for, run
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a"])
    config = make_config([account.config()])
    h = harness_for(config)
    h.sync()
    account.insert_ids(["b"])
    h.sync()
    (Path(h.store.table_uri("account")) / "_delta_log" / f"{1:020d}.json").unlink()

    done = run("sync", "--config", config.file)
    assert done.returncode == 1 and "log ends at version 0" in done.stdout + done.stderr

    done = run("audit", "accept-lost-versions", "--config", config.file, "--by", "ops")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "account: versions 1..1 recorded as lost" in done.stdout

    assert run("sync", "--config", config.file).returncode == 0
    assert sorted(r["id"] for r in h.bronze().to_pylist()) == ["a", "b"]
    again = run("audit", "accept-lost-versions", "--config", config.file)
    assert again.returncode == 1 and "the log lost no version" in again.stdout


def test_audit_verify_exits_0_on_an_intact_chain_and_1_naming_an_altered_row(
    pg_engine, pg_schema, make_config, harness_for, run
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    config = make_config([account.config()])
    h = harness_for(config)
    h.sync()
    done = run("audit", "verify", "--config", config.file)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rows chained and intact" in done.stdout

    log = sorted(h.meta.rows("SyncAuditLog"), key=lambda r: r["ChainSeq"])
    log[1]["Status"] = "Success" if log[1]["Status"] != "Success" else "Failed"
    data = pa.Table.from_pylist(log, schema=SCHEMAS["SyncAuditLog"])
    write_deltalake(h.meta.uri("SyncAuditLog"), data, mode="overwrite")
    done = run("audit", "verify", "--config", config.file, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert (report["ok"], report["log_id"]) == (False, log[1]["LogId"])


def test_audit_verify_seal_chains_an_old_log_once(pg_engine, pg_schema, make_config, run):
    account = PgTable(pg_engine, pg_schema)
    config = make_config([account.config()])
    meta = MetadataStore(BronzeStore.from_config(config.bronze))
    entry = AuditEntry("InitialSync", "account", dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    meta.append("SyncAuditLog", [audit_row(RunInfo("old"), entry, entry.start)])
    assert run("audit", "verify", "--config", config.file).returncode == 1
    done = run("audit", "verify", "--config", config.file, "--seal")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sealed 1 row(s)" in done.stdout
