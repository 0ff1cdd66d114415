"""The command line, run as a user would: exit codes 0/1/2 and readable output."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import dagster as dg
import pytest
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecordStatus,
)

from bronze_sync.config import load_config
from bronze_sync.config.loader import default_config_path
from bronze_sync.defs.location import build_definitions
from bronze_sync_tests.helpers import PgTable


def run(*args: str, cwd=None, env_extra=None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BRONZE_SYNC_CONFIG", "DAGSTER_HOME")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "bronze_sync", *args],
        capture_output=True,
        text=True,
        cwd=cwd or tempfile.mkdtemp(prefix="bronze_sync_cli_"),  # its own default Dagster home
        env=env,
        timeout=600,
    )


def test_bad_config_exits_2_with_the_key_path(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "source: {kind: sql, url: x}\nbronze: {path: /x}\ntables: [{name: a, source: a}]\n"
    )
    done = run("sync", "--config", str(bad))
    assert done.returncode == 2
    assert "tables[0].primary_key: required" in done.stderr


def test_missing_env_var_exits_2(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "source: {kind: sql, url: '${NOPE_URL}'}\nbronze: {path: /x}\ntables: [{name: a, source: a, primary_key: id}]\n"
    )
    done = run("status", "--config", str(cfg))
    assert done.returncode == 2 and "environment variable NOPE_URL is not set" in done.stderr


def test_usage_errors_exit_2(make_config):
    config = make_config([{"name": "a", "source": "a", "primary_key": "id"}])
    assert "unknown table 'zzz'" in run("sync", "--config", config.file, "--tables", "zzz").stderr
    done = run("sync", "--config", config.file, "--partition", "yesterday")
    assert done.returncode == 2 and "not a date YYYY-MM-DD" in done.stderr
    assert run("sync", "--bogus").returncode == 2


@pytest.mark.slow
def test_sync_and_status(pg_engine, pg_schema, make_config):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b", "c"])
    ghost = {"name": "ghost", "source": f"{pg_schema}.ghost", "primary_key": "id"}
    config = make_config([account.config(), ghost], sync={"retry_delay_seconds": 0})
    ok = run("sync", "--config", config.file, "--tables", "account", "--partition", "2026-11-22")
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "Sync batch 2026-11-22" in ok.stdout and "Success" in ok.stdout
    assert "bronze_batch_2026-11-22 pins account@v0" in ok.stdout
    refused = run("sync", "--config", config.file, "--partition", "2026-11-23")
    assert refused.returncode == 2  # a missing source table is a configuration problem
    assert "ghost: source table" in refused.stderr and "does not exist" in refused.stderr
    status = run("status", "--config", config.file)
    assert status.returncode == 0
    line = next(line for line in status.stdout.splitlines() if "account" in line)
    assert "3" in line and "Success" in line


@pytest.mark.slow
def assert_demo_story(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for step in [
        "1. The source",
        "2. First sync",
        "3. The source changes",
        "4. Second sync",
        "5. What bronze holds now",
    ]:
        assert step in out
    assert out.count("│ yes") == 6  # three merged tables and one table of each other kind
    for kind in ("partitioned", "scd2", "static"):
        assert f"│ {kind}" in out
    # Only the CLI's own lines: Dagster's console logs go to the instance and its log file.
    assert " - DEBUG - " not in out and " - INFO - " not in out


def demo_runs(home) -> list[dg.DagsterRun]:
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        return list(instance.get_runs())
    finally:
        instance.dispose()


@pytest.mark.slow
def test_demo_twice_tells_the_whole_story_and_fills_the_ui_instance(tmp_path):
    assert_demo_story(run("demo", cwd=tmp_path))
    home = tmp_path / ".dagster"
    assert (tmp_path / "data" / "bronze" / "account" / "_delta_log").is_dir()
    assert (home / "logs" / "bronze-sync.log").stat().st_size > 0
    first_runs = demo_runs(home)

    assert_demo_story(run("demo", cwd=tmp_path))
    runs = demo_runs(home)
    assert len(runs) == 2 * len(first_runs)  # the UI shows both demos' runs
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    assert {"daily_sync", "purge_metadata_update"} <= {r.job_name for r in runs}

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        account = dg.AssetKey(["bronze", "account"])
        batches = {r.tags["dagster/partition"] for r in runs if r.job_name == "daily_sync"}
        assert len(batches) == 2
        assert instance.get_materialized_partitions(account) == batches
        checks = [k for k in demo_check_keys() if k.asset_key == account]
        assert checks
        for key in checks:
            history = instance.event_log_storage.get_asset_check_execution_history(key, limit=10)
            assert len(history) == 4, key.name  # two syncs per demo
            assert all(r.status == AssetCheckExecutionRecordStatus.SUCCEEDED for r in history)
    finally:
        instance.dispose()


def demo_check_keys() -> list[dg.AssetCheckKey]:
    demo = load_config(str(default_config_path()))
    return list(build_definitions(demo).resolve_asset_graph().asset_check_keys)
