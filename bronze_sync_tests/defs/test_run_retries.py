"""Pipeline-level retries: the instance enables them, the sync jobs' tags set how many."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest

from bronze_sync.cli.dagster_home import instance_settings
from bronze_sync.cli.runner import run_daily_sync
from bronze_sync.config import CONFIG_ENV
from bronze_sync.defs.jobs import FROM_FAILURE, MAX_RETRIES_TAG, PROFILE_TAG, RETRY_STRATEGY_TAG
from bronze_sync.defs.location import build_definitions, load_daily_sync_job
from bronze_sync.defs.partitions import ensure_partition
from bronze_sync_tests.deploy.conftest import DEPLOY

KEY = "2026-11-23"
WILL_RETRY = "dagster/will_retry"
GHOST = {"name": "ghost", "source": "public.ghost_never_created", "primary_key": "id"}


@pytest.fixture
def project_home(tmp_path, monkeypatch):
    """Return a Dagster home holding the project's packaged dagster.yaml, as DAGSTER_HOME."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(instance_settings(), home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.mark.parametrize("settings", [instance_settings(), DEPLOY / "dagster.yaml"])
def test_instance_settings_enable_run_retries_only_for_tagged_jobs(settings, tmp_path):
    shutil.copyfile(settings, tmp_path / "dagster.yaml")
    config, _ = dg._core.instance.config.dagster_instance_config(str(tmp_path))
    assert config["run_retries"] == {"enabled": True, "max_retries": 0}


def test_project_instance_reads_the_retry_settings(project_home):
    with dg.DagsterInstance.get() as instance:
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == 0  # untagged jobs: purge, rollback, ...
        assert instance.run_retries_retry_on_asset_or_op_failure
        # Auto re-execution runs in the daemon's event log consumer.
    assert "EVENT_LOG_CONSUMER" in instance.get_required_daemon_types()


def test_sync_jobs_carry_the_configured_run_retries(make_config):
    tables = [
        {"name": "a", "source": "s.a", "primary_key": "id"},
        {"name": "day", "source": "s.day", "primary_key": ["id", "day"], "kind": "partitioned",
         "partition_column": "day"},
    ]  # fmt: skip
    defs = build_definitions(make_config(tables, sync={"run_retries": 3}))
    expected = {MAX_RETRIES_TAG: "3", RETRY_STRATEGY_TAG: FROM_FAILURE}
    assert defs.resolve_job_def("daily_sync").tags == expected
    assert defs.resolve_job_def("sync_partitions_day").tags == expected
    assert PROFILE_TAG not in defs.resolve_job_def("daily_sync").tags
    # Jobs that change bronze on purpose are never re-executed behind the operator's back.
    for name in ("purge_metadata_update", "rollback_to_checkpoint", "weekly_maintenance"):
        assert MAX_RETRIES_TAG not in defs.resolve_job_def(name).tags
    assert build_definitions(make_config(tables)).resolve_job_def("daily_sync").tags == {
        MAX_RETRIES_TAG: "2",
        RETRY_STRATEGY_TAG: FROM_FAILURE,
    }


@pytest.mark.slow
def test_failed_sync_run_is_marked_for_the_daemon_to_retry(make_config, project_home, monkeypatch):
    config = make_config([GHOST], sync={"retry_delay_seconds": 0, "max_retries": 0})
    monkeypatch.setenv(CONFIG_ENV, config.file)
    with dg.DagsterInstance.get() as instance:
        ensure_partition(instance, KEY)
        # As the scheduler or the UI launch it: the job's own tags only.
        result = dg.execute_job(
            dg.reconstructable(load_daily_sync_job),
            instance=instance,
            tags={"dagster/partition": KEY},
            raise_on_error=False,
        )
        scheduled = instance.get_run_by_id(result.run_id)
        # The CLI runs the job in its own process: nothing could re-execute it.
        outcome = run_daily_sync(config, instance, KEY)
        by_cli = instance.get_run_by_id(outcome.run_id)
    assert not result.success and scheduled is not None and by_cli is not None
    assert scheduled.tags[MAX_RETRIES_TAG] == "2"
    assert scheduled.tags[RETRY_STRATEGY_TAG] == FROM_FAILURE
    assert scheduled.tags[WILL_RETRY] == "true"
    assert by_cli.status == dg.DagsterRunStatus.FAILURE
    assert by_cli.tags[WILL_RETRY] == "false"
