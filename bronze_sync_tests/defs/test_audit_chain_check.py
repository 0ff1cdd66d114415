"""The daily audit-chain check runs with the health report and fails naming the broken row."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pyarrow as pa
from deltalake import write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.defs.audit_chain import audit_chain_intact
from bronze_sync.defs.location import build_definitions
from bronze_sync.defs.monitoring import HEALTH_JOB
from bronze_sync.defs.resources import BronzeStorageResource
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.metadata.audit import AuditEntry, write_audit
from bronze_sync.metadata.schemas import SCHEMAS

NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)


def test_the_check_passes_on_an_intact_chain_and_fails_naming_an_altered_row(tmp_path):
    meta = MetadataStore(BronzeStore(str(tmp_path)))
    write_audit(meta, RunInfo("r"), [AuditEntry(f"Op{i}", "account", NOW) for i in range(3)], NOW)
    bronze = BronzeStorageResource(path=str(tmp_path))
    result = audit_chain_intact(bronze=bronze)
    assert result.passed and result.metadata["rows"].value == 3

    log = sorted(meta.rows("SyncAuditLog"), key=lambda r: r["ChainSeq"])
    log[0]["Operation"] = "Nothing"
    data = pa.Table.from_pylist(log, schema=SCHEMAS["SyncAuditLog"])
    write_deltalake(meta.uri("SyncAuditLog"), data, mode="overwrite")
    result = audit_chain_intact(bronze=bronze)
    assert not result.passed
    assert result.metadata["log_id"].value == log[0]["LogId"]


def test_the_daily_health_report_job_runs_the_check(make_config):
    config = make_config([{"name": "a", "source": "s.a", "primary_key": "id"}])
    job = build_definitions(config).resolve_job_def(HEALTH_JOB)
    check = dg.AssetCheckKey(dg.AssetKey("health_report"), "audit_chain_intact")
    assert check in job.asset_layer.asset_graph.asset_check_keys
