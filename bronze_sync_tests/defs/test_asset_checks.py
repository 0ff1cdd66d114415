"""The asset checks run with the daily_sync job and show their results in Dagster."""

from __future__ import annotations

import dagster as dg

from bronze_sync.cli.runner import dagster_instance, run_daily_sync
from bronze_sync.defs.location import build_definitions
from bronze_sync.metadata.schemas import DATA_VALIDATION
from bronze_sync.validation import CHECKS
from bronze_sync_tests.helpers import PgTable


def test_every_bronze_asset_has_all_checks_error_ones_blocking(pg_engine, pg_schema, make_config):
    t = PgTable(pg_engine, pg_schema)
    defs = build_definitions(make_config([t.config()]))
    specs = {
        spec.name: spec
        for checks in defs.asset_checks
        for spec in checks.check_specs
        if spec.asset_key == dg.AssetKey(["bronze", "account"])
    }
    assert set(specs) == set(CHECKS)
    assert specs["primary_key_unique"].blocking and not specs["fresh"].blocking


def test_daily_sync_evaluates_checks_and_records_them(
    pg_engine, pg_schema, make_config, dagster_home
):
    t = PgTable(pg_engine, pg_schema)
    t.insert_ids([f"k{i}" for i in range(10)])
    config = make_config([t.config()])
    with dagster_instance() as instance:
        outcome = run_daily_sync(config, instance, "2026-11-20")
        assert outcome.success
        evaluations = [
            r.dagster_event.event_specific_data
            for r in instance.all_logs(outcome.run_id)
            if r.dagster_event and r.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
    by_name = {e.check_name: e for e in evaluations}
    assert set(by_name) == set(CHECKS)
    assert all(e.passed for e in evaluations)
    assert by_name["source_reconciled"].metadata["source_rows"].value == 10
    from bronze_sync.bronze.storage import BronzeStore
    from bronze_sync.metadata import MetadataStore

    rows = MetadataStore(BronzeStore.from_config(config.bronze)).rows(DATA_VALIDATION)
    recorded = {r["ValidationContext"] for r in rows if r["PipelineRunId"] == outcome.run_id}
    assert set(CHECKS) <= recorded
