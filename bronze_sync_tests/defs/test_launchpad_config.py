"""The config the Launchpad pre-fills for each job is valid once the required op config is set."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml
from dagster._core.snap.snap_to_yaml import default_values_yaml_from_type_snap

from bronze_sync.defs.location import build_definitions
from bronze_sync.defs.resources import BronzeStorageResource
from bronze_sync.defs.rollback import ANALYSE_OP, ROLLBACK_JOB


def launchpad_yaml(job: dg.JobDefinition) -> str:
    """Return the run config the Launchpad starts from (the webserver's rootDefaultYaml)."""
    snapshot = job.get_job_snapshot()
    schema = snapshot.config_schema_snapshot
    root = schema.get_config_snap(snapshot.mode_def_snaps[0].root_config_key)
    return default_values_yaml_from_type_snap(schema, root)


def resource_errors(job: dg.JobDefinition, run_config: dict) -> list[str]:
    """Return the validation errors `run_config` has under `resources`."""
    try:
        dg.validate_run_config(job, run_config)
    except dg.DagsterInvalidConfigError as exc:
        return [e.message for e in exc.errors if "resources" in e.stack.levels[:1]]
    return []


@pytest.fixture
def defs(make_config) -> dg.Definitions:
    return build_definitions(make_config([{"name": "a", "source": "s.a", "primary_key": "id"}]))


def test_rollback_launchpad_config_with_a_checkpoint_is_valid(defs):
    job = defs.resolve_job_def(ROLLBACK_JOB)
    run_config = yaml.safe_load(launchpad_yaml(job))
    # It used to lack `storage` (Dagster drops the empty `local: {}`), a required entry.
    assert "storage" not in run_config["resources"]["bronze"]["config"]
    run_config["ops"][ANALYSE_OP]["config"]["checkpoint_name"] = "bronze_batch_2026-11-20"
    assert dg.validate_run_config(job, run_config)


@pytest.mark.parametrize(
    "job_name", ["daily_sync", "purge_metadata_update", "weekly_maintenance", ROLLBACK_JOB]
)
def test_no_launchpad_config_misses_a_resource_entry(defs, job_name):
    job = defs.resolve_job_def(job_name)
    assert resource_errors(job, yaml.safe_load(launchpad_yaml(job)) or {}) == []


def test_bronze_storage_defaults_to_local_and_keeps_a_configured_provider(defs):
    job = defs.resolve_job_def(ROLLBACK_JOB)
    config = yaml.safe_load(launchpad_yaml(job))["resources"]["bronze"]["config"]
    assert BronzeStorageResource(**config).store().storage_options == {}
    azure = {**config, "storage": {"azure": {"account_name": "acct"}}}
    ops = {ANALYSE_OP: {"config": {"checkpoint_name": "manual"}}}
    resolved = dg.validate_run_config(job, {"ops": ops, "resources": {"bronze": {"config": azure}}})
    assert resolved["resources"]["bronze"]["config"]["storage"]["azure"]["account_name"] == "acct"
