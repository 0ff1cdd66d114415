"""Partitioned tables in Dagster: value partitions, ranged runs in one sync, the value sensor."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pyarrow.compute as pc
import pytest

from bronze_sync.bronze.commit import commit_fields
from bronze_sync.cli.runner import run_daily_sync
from bronze_sync.config import CONFIG_ENV
from bronze_sync.defs.assets import asset_key
from bronze_sync.defs.location import (
    build_definitions,
    reconstructable_partition_job,
    source_resource,
)
from bronze_sync.defs.partition_values import (
    SYNC_BATCH_TAG,
    contiguous_runs,
    partition_job_name,
    partitions_name,
    range_tags,
)
from bronze_sync.defs.resources import bronze_resource
from bronze_sync.defs.sensors import PARTITION_SENSOR
from bronze_sync_tests.helpers import PgTable
from bronze_sync_tests.positions import PositionsTable

DAYS = [20260101, 20260102, 20260105, 20260106, 20260107]
KEYS = [str(d) for d in DAYS]
RANGE_START = "dagster/asset_partition_range_start"


@pytest.fixture
def positions(pg_engine, pg_schema) -> PositionsTable:
    table = PositionsTable(pg_engine, pg_schema)
    table.add_days(DAYS)
    return table


@pytest.fixture
def instance(monkeypatch):
    monkeypatch.setenv(CONFIG_ENV, "unset")  # a run's step processes read the config from here
    with dg.instance_for_test() as made:
        yield made


def launch(config, instance, monkeypatch, tags) -> dg.ExecutionResult:
    """Execute the partitioned table's job as the UI or the sensor daemon launches it."""
    monkeypatch.setenv(CONFIG_ENV, config.file)
    return dg.execute_job(
        reconstructable_partition_job(partition_job_name("positions")),
        instance=instance,
        tags=tags,
    )


def materialized(instance) -> set[str]:
    return set(instance.get_materialized_partitions(asset_key("positions")))


def test_definitions_split_partitioned_tables_from_daily_sync(make_config, pg_schema):
    account = {"name": "account", "source": f"{pg_schema}.account", "primary_key": "id"}
    positions = {
        "name": "positions",
        "source": f"{pg_schema}.positions",
        "kind": "partitioned",
        "primary_key": ["position_id", "cobid"],
        "partition_column": "cobid",
        "initial_partitions": 3,
    }
    defs = build_definitions(make_config([account, positions]))
    daily = defs.resolve_job_def("daily_sync")
    assert daily.asset_layer.executable_asset_keys == {asset_key("account")}
    assert {k.asset_key for k in daily.asset_layer.asset_graph.asset_check_keys} == {
        asset_key("account")
    }
    job = defs.resolve_job_def(partition_job_name("positions"))
    assert job.asset_layer.executable_asset_keys == {asset_key("positions")}
    checks = {k.name for k in job.asset_layer.asset_graph.asset_check_keys}
    assert {"primary_key_unique", "counts_consistent"} <= checks
    asset = defs.resolve_assets_def(asset_key("positions"))
    assert asset.partitions_def == dg.DynamicPartitionsDefinition(name=partitions_name("positions"))
    assert asset.backfill_policy == dg.BackfillPolicy.single_run()
    assert asset.metadata_by_key[asset_key("positions")]["kind"] == "partitioned"
    assert asset.metadata_by_key[asset_key("positions")]["partition_column"] == "cobid"
    assert "Kind **partitioned**" in asset.descriptions_by_key[asset_key("positions")]
    merged = defs.resolve_assets_def(asset_key("account"))
    assert merged.metadata_by_key[asset_key("account")]["kind"] == "merged"
    sensors = {s.name for s in defs.sensors}
    assert {PARTITION_SENSOR, "batch_checkpoint_on_success", "run_failure_alert"} <= sensors
    schedules = {s.name for s in defs.schedules}
    assert {"daily_sync_schedule", "weekly_maintenance_schedule"} <= schedules
    for name in ["purge_metadata_update", "rollback_to_checkpoint", "weekly_maintenance"]:
        defs.resolve_job_def(name)


def test_contiguous_runs_follow_the_registered_key_order():
    registered = ["1", "2", "3", "5", "4", "6"]
    assert contiguous_runs(registered, ["2", "3"]) == [("2", "3")]
    assert contiguous_runs(registered, ["3", "4", "5"]) == [("3", "4")]
    assert contiguous_runs(registered, ["1", "3", "6"]) == [("1", "1"), ("3", "3"), ("6", "6")]
    assert contiguous_runs(registered, []) == []


@pytest.mark.slow
def test_range_backfill_reloads_exactly_its_values_in_one_commit(
    positions, make_config, harness_for, instance, monkeypatch
):
    config = make_config([positions.config(initial_partitions=3, max_delete_fraction=0.5)])
    instance.add_dynamic_partitions(partitions_name("positions"), KEYS)
    first = launch(config, instance, monkeypatch, range_tags("20260105", "20260107"))
    assert first.success
    h = harness_for(config)
    before = h.bronze().filter(pc.equal(h.bronze().column("cobid"), 20260107)).to_pylist()
    positions.restate(20260106, "restated")
    positions.restate(20260107, "not reloaded")
    positions.execute_delete(cobid=20260105, position_id=3)

    backfill = launch(config, instance, monkeypatch, range_tags("20260105", "20260106"))

    assert backfill.success
    delta = h.delta()
    assert delta.version() == 1  # one commit for the whole range
    assert commit_fields(delta.history()[0])["partition_values"] == ["20260105", "20260106"]
    rows = h.bronze().to_pylist()
    by_day = {d: [r for r in rows if r["cobid"] == d] for d in (20260105, 20260106, 20260107)}
    assert {r["book"] for r in by_day[20260106]} == {"restated"}
    gone = [r for r in by_day[20260105] if r["IsDeleted"]]
    assert [r["position_id"] for r in gone] == [3]
    assert by_day[20260107] == before  # outside the range: untouched
    assert materialized(instance) == {"20260105", "20260106", "20260107"}
    run = instance.get_run_by_id(backfill.run_id)
    assert run.tags[SYNC_BATCH_TAG] == dt.datetime.now(dt.UTC).date().isoformat()


@pytest.mark.slow
def test_backfill_before_the_first_sync_loads_exactly_the_chosen_values(
    positions, make_config, harness_for, instance, monkeypatch
):
    config = make_config([positions.config(initial_partitions=3)])
    instance.add_dynamic_partitions(partitions_name("positions"), KEYS)
    result = launch(config, instance, monkeypatch, range_tags("20260101", "20260102"))
    assert result.success
    h = harness_for(config)
    assert h.delta().version() == 0  # the table is created with those values, in one commit
    assert sorted(set(h.bronze().column("cobid").to_pylist())) == [20260101, 20260102]
    assert materialized(instance) == {"20260101", "20260102"}


def evaluate(config, instance):
    """Evaluate the partition-value sensor once; apply its key additions as the daemon does."""
    defs = build_definitions(config)
    sensor = next(s for s in defs.sensors if s.name == PARTITION_SENSOR)
    resources = {"source": source_resource(config), "bronze": bronze_resource(config)}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = sensor(context)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    return result


@pytest.mark.slow
def test_sensor_registers_values_and_requests_the_runs_that_load_new_ones(
    positions, make_config, instance, monkeypatch
):
    config = make_config([positions.config(initial_partitions=2)])
    first = evaluate(config, instance)
    (adds,) = first.dynamic_partitions_requests
    assert adds.partitions_def_name == partitions_name("positions") and adds.partition_keys == KEYS
    (request,) = first.run_requests
    assert request.job_name == partition_job_name("positions")
    assert request.run_key == "positions:20260106..20260107"
    assert request.partition_key_range == dg.PartitionKeyRange("20260106", "20260107")
    assert launch(config, instance, monkeypatch, request.tags).success
    assert materialized(instance) == {"20260106", "20260107"}

    assert evaluate(config, instance).run_requests == []  # nothing new: no run, no key
    positions.add_days([20260109])
    evaluate(config, instance)  # registered, but its run is not launched
    positions.add_days([20260108])  # a late day, registered after 20260109
    late = evaluate(config, instance)
    assert [r.partition_keys for r in late.dynamic_partitions_requests] == [["20260108"]]
    assert [(r.run_key, r.partition_key) for r in late.run_requests] == [
        ("positions:20260108", "20260108"),
        ("positions:20260109", "20260109"),
    ]
    assert RANGE_START not in late.run_requests[0].tags


@pytest.mark.slow
def test_daily_sync_still_materializes_the_other_tables(
    pg_engine, pg_schema, positions, make_config, instance
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    config = make_config([account.config(), positions.config(initial_partitions=2)])
    outcome = run_daily_sync(config, instance, "2026-11-23")
    assert outcome.all_synced and len(outcome.run_ids) == 2
    daily = instance.get_run_by_id(outcome.run_ids[0])
    assert daily.job_name == "daily_sync"
    assert instance.get_materialized_partitions(asset_key("account")) == {"2026-11-23"}
    assert materialized(instance) == {"20260106", "20260107"}
    assert set(outcome.checkpoint.table_versions) == {"account", "positions"}
