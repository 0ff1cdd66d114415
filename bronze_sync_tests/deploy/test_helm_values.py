"""Scale-out without a cluster: the Helm values validate, and the definitions built for the
k8s_job_executor give every table's step pod the resources of the table's size."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import jsonschema
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from dagster_k8s import k8s_job_executor
from dagster_k8s.job import get_user_defined_k8s_config

from bronze_sync.defs.k8s import EXECUTOR_ENV, K8S_CONFIG_TAG, SIZE_RESOURCES
from bronze_sync.defs.location import build_definitions
from bronze_sync.errors import ConfigError
from bronze_sync_tests.deploy.conftest import DEPLOY, pg_env

HELM = DEPLOY / "helm"
# A folder holding the official chart's values.yaml and values.schema.json, e.g. from
# `helm pull dagster/dagster --version 1.13.27 --untar` (docs/scale-out.md).
CHART_ENV = "BRONZE_SYNC_HELM_CHART"


def values() -> dict[str, Any]:
    return yaml.safe_load((HELM / "values.yaml").read_text())


def test_values_follow_the_chart_keys():
    schema = json.loads((HELM / "values.contract.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(values())


def merged(defaults: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return Helm's merge of chart defaults and a values file (maps deep, lists replaced)."""
    out = dict(defaults)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def without_remote_refs(node: Any) -> Any:
    """Return the schema with references to Kubernetes' published schemas dropped.

    Without network they cannot be read; the cluster's API server checks those pod fields.
    """
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        kept = {k: v for k, v in node.items() if not (k == "$ref" and ref.startswith("http"))}
        return {k: without_remote_refs(v) for k, v in kept.items()}
    if isinstance(node, list):
        return [without_remote_refs(v) for v in node]
    return node


def test_values_validate_against_the_official_chart_schema():
    chart = os.environ.get(CHART_ENV)
    if not chart:
        pytest.skip(f"set {CHART_ENV} to an unpacked dagster chart to check its schema too")
    folder = Path(chart)
    schema = json.loads((folder / "values.schema.json").read_text())
    defaults = yaml.safe_load((folder / "values.yaml").read_text())

    validator = jsonschema.Draft7Validator(without_remote_refs(schema))
    validator.validate(merged(defaults, values()))


def test_values_run_each_table_step_in_its_own_pod():
    v = values()
    assert v["runLauncher"]["type"] == "K8sRunLauncher"
    (deployment,) = v["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "bronze_sync.definitions"]
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env[EXECUTOR_ENV] == "k8s"
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    # The queue and the pools of deploy/dagster.yaml, set once (the chart refuses both forms).
    assert v["concurrency"]["pools"]["defaultLimit"] == 1
    assert v["concurrency"]["runs"]["maxConcurrentRuns"] >= 1
    queued = v["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert "maxConcurrentRuns" not in queued
    assert v["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"


def test_deploy_instance_settings_are_valid_dagster_config(tmp_path, monkeypatch):
    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    for name, value in pg_env("dagster").items():
        monkeypatch.setenv(name, value)
    settings, _ = dagster_instance_config(str(tmp_path))
    assert settings["concurrency"] == {
        "pools": {"default_limit": 1},
        "runs": {"max_concurrent_runs": 4},
    }
    assert settings["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert settings["storage"]["postgres"]["postgres_db"]["password"] == {
        "env": "DAGSTER_PG_PASSWORD"
    }


def sized_tables() -> list[dict[str, Any]]:
    return [
        {"name": "tiny", "source": "s.tiny", "primary_key": "id", "size": "small"},
        {"name": "usual", "source": "s.usual", "primary_key": "id"},
        {"name": "huge", "source": "s.huge", "primary_key": "id", "size": "large"},
    ]


def test_k8s_executor_and_a_pod_size_per_table(make_config, monkeypatch):
    monkeypatch.setenv(EXECUTOR_ENV, "k8s")
    config = make_config(sized_tables())
    defs = build_definitions(config)
    job = defs.resolve_job_def("daily_sync")
    assert job.executor_def.executor_creation_fn is k8s_job_executor.executor_creation_fn
    sizes = {}
    for table in config.tables:
        op = defs.resolve_assets_def(dg.AssetKey(["bronze", table.name])).op
        resources = get_user_defined_k8s_config(op.tags).container_config["resources"]
        assert resources == SIZE_RESOURCES[table.size]
        sizes[table.name] = resources
    assert sizes["huge"]["requests"] == {"cpu": "2", "memory": "6Gi"}
    assert sizes["usual"]["requests"] == {"cpu": "1", "memory": "2Gi"}  # the default: medium
    assert sizes["tiny"]["limits"] == {"memory": "1Gi"}


def test_local_runs_keep_the_multiprocess_executor_and_ignore_the_tags(make_config, monkeypatch):
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    defs = build_definitions(make_config(sized_tables()))
    job = defs.resolve_job_def("daily_sync")
    assert job.executor_def.executor_creation_fn is dg.multiprocess_executor.executor_creation_fn
    assert K8S_CONFIG_TAG in defs.resolve_assets_def(dg.AssetKey(["bronze", "huge"])).op.tags


def test_unknown_executor_is_a_config_error(make_config, monkeypatch):
    monkeypatch.setenv(EXECUTOR_ENV, "lambda")
    with pytest.raises(ConfigError, match="BRONZE_SYNC_EXECUTOR='lambda' is not an executor"):
        build_definitions(make_config(sized_tables()))


def test_unknown_size_is_a_config_error(make_config):
    with pytest.raises(ConfigError, match=r"tables\[0\]\.size: Input should be 'small'"):
        make_config([{"name": "a", "source": "s.a", "primary_key": "id", "size": "huge"}])


def test_daily_cron_is_configurable_and_checked(make_config):
    config = make_config(sized_tables(), sync={"daily_cron": "*/5 * * * *"})
    schedule = build_definitions(config).resolve_schedule_def("daily_sync_schedule")
    assert schedule.cron_schedule == "*/5 * * * *"
    with pytest.raises(ConfigError, match=r"sync\.daily_cron: 'daily' is not a cron schedule"):
        make_config(sized_tables(), sync={"daily_cron": "daily"})
