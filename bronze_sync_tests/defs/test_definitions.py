"""The code location: assets per table, shared partitions, job, schedule, sensors, resources."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg

from bronze_sync.defs.location import build_definitions
from bronze_sync.defs.partitions import SYNC_BATCHES
from bronze_sync.defs.resources import SqlSourceResource


def test_one_partitioned_asset_per_enabled_table(make_config):
    config = make_config(
        [
            {"name": "a", "source": "s.a", "primary_key": "id"},
            {"name": "b", "source": "s.b", "primary_key": "id"},
            {"name": "off", "source": "s.off", "primary_key": "id", "enabled": False},
        ]
    )
    defs = build_definitions(config)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {"bronze/a", "bronze/b", "health_report"}
    for key in (k for k in graph.get_all_asset_keys() if k.path[0] == "bronze"):
        partitions = graph.get(key).partitions_def
        assert (
            isinstance(partitions, dg.DynamicPartitionsDefinition)
            and partitions.name == SYNC_BATCHES
        )
    job = defs.resolve_job_def("daily_sync")
    assert job.partitions_def.name == SYNC_BATCHES
    assert defs.resolve_schedule_def("daily_sync_schedule").cron_schedule == "0 6 * * *"
    assert (
        defs.resolve_sensor_def("batch_checkpoint_on_success").name == "batch_checkpoint_on_success"
    )


def test_source_url_written_as_env_var_becomes_envvar(make_config, monkeypatch):
    monkeypatch.setenv("TEST_SOURCE_URL", "postgresql+psycopg://u:topsecret@h/db")
    config = make_config(
        [{"name": "a", "source": "a", "primary_key": "id"}], source={"url": "${TEST_SOURCE_URL}"}
    )
    resource = build_definitions(config).resources["source"]
    assert isinstance(resource, SqlSourceResource)
    assert isinstance(resource.url, dg.EnvVar) and resource.url.env_var_name == "TEST_SOURCE_URL"


def test_partial_template_keeps_secret_unexpanded(make_config, monkeypatch):
    monkeypatch.setenv("TEST_PW", "topsecret")
    config = make_config(
        [{"name": "a", "source": "a", "primary_key": "id"}],
        source={"url": "postgresql+psycopg://u:${TEST_PW}@h/db"},
    )
    resource = build_definitions(config).resources["source"]
    assert resource.url == "postgresql+psycopg://u:${TEST_PW}@h/db"


def test_dagster_validates_the_code_location(make_config):
    config = make_config([{"name": "a", "source": "a", "primary_key": "id"}])
    env = {**os.environ, "BRONZE_SYNC_CONFIG": config.file}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-m",
            "bronze_sync.definitions",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Validation successful" in done.stderr + done.stdout
