"""A persistent Dagster instance stays usable after killed commands and concurrent first runs."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from bronze_sync_tests.cli.processes import (
    HANG_GUARD_SECONDS,
    REPO_ROOT,
    cli_env,
    kill_group,
    locked_table,
    run_cli,
    started_cli,
    wait_for_lock_waiter,
    wait_for_text,
)
from bronze_sync_tests.helpers import PgTable

POOL = "bronze_account"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Return a fresh Dagster home holding the repository's dagster.yaml (pools, monitoring)."""
    folder = tmp_path / "dagster_home"
    folder.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", folder / "dagster.yaml")
    return folder


@pytest.fixture
def account(pg_engine, pg_schema) -> PgTable:
    table = PgTable(pg_engine, pg_schema)
    table.insert_ids(["a", "b", "c"])
    return table


def open_instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def started_runs(home: Path) -> list[dg.DagsterRun]:
    with open_instance(home) as instance:
        return list(instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])))


@pytest.mark.slow
def test_killed_sync_is_failed_and_its_pool_slot_freed_by_the_next_sync(
    pg_engine, pg_schema, account, make_config, home, tmp_path
):
    config = make_config([account.config()])
    env = cli_env(DAGSTER_HOME=str(home))
    with (
        locked_table(pg_engine, pg_schema, "account"),
        started_cli("sync", "--config", config.file, env=env, logs=tmp_path / "first") as first,
    ):
        wait_for_lock_waiter(pg_engine, pg_schema, "account", first)
        (dead,) = started_runs(home)
        kill_group(first)
    with open_instance(home) as instance:
        held = instance.event_log_storage.get_concurrency_info(POOL).active_run_ids
    assert held == {dead.run_id}  # the killed run still holds the table's only slot

    second = run_cli("sync", "--config", config.file, env=env)

    assert second.returncode == 0, second.stdout + second.stderr
    assert "Success" in second.stdout
    (freed,) = [line for line in second.stderr.splitlines() if line.startswith("freed run")]
    assert dead.run_id in freed and f"pid {first.pid}" in freed
    with open_instance(home) as instance:
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info(POOL).active_run_ids


@pytest.mark.slow
def test_sync_waiting_for_a_live_run_names_the_run_that_holds_the_slot(
    pg_engine, pg_schema, account, make_config, home, tmp_path
):
    config = make_config([account.config()])
    env = cli_env(DAGSTER_HOME=str(home))
    sync = ("sync", "--config", config.file)
    with contextlib.ExitStack() as processes:
        with locked_table(pg_engine, pg_schema, "account"):
            first = processes.enter_context(started_cli(*sync, env=env, logs=tmp_path / "first"))
            wait_for_lock_waiter(pg_engine, pg_schema, "account", first)
            (holder,) = started_runs(home)
            second = processes.enter_context(started_cli(*sync, env=env, logs=tmp_path / "second"))
            notice = wait_for_text(tmp_path / "second.err", "slot held by", second)
        # The lock is released: the first sync ends, then the second gets the slot.
        assert first.wait(timeout=HANG_GUARD_SECONDS) == 0
        assert second.wait(timeout=HANG_GUARD_SECONDS) == 0
    (line,) = [line for line in notice.splitlines() if "slot held by" in line]
    assert line.startswith(f"{POOL}: slot held by run {holder.run_id} (daily_sync, started ")
    assert f"pid {first.pid}" in line and "this sync waits" in line
    assert "freed" not in notice  # a live run is never taken for a dead one


@pytest.mark.slow
def test_killed_sync_without_dagster_home_is_freed_by_the_next_command_in_that_folder(
    pg_engine, pg_schema, account, make_config, tmp_path
):
    config = make_config([account.config()])
    project = tmp_path / "project"
    project.mkdir()
    env = cli_env()
    with (
        locked_table(pg_engine, pg_schema, "account"),
        started_cli(
            "sync", "--config", config.file, env=env, logs=tmp_path / "first", cwd=project
        ) as first,
    ):
        wait_for_lock_waiter(pg_engine, pg_schema, "account", first)
        kill_group(first)
    assert (project / ".dagster" / "dagster.yaml").exists()  # the folder's default home

    second = run_cli("sync", "--config", config.file, env=env, cwd=project)

    assert second.returncode == 0, second.stdout + second.stderr
    assert "freed run" in second.stderr and f"pid {first.pid}" in second.stderr


FIRST_USE = """
import os, sys, time
from bronze_sync.cli.runner import dagster_instance
open(sys.argv[1] + "." + str(os.getpid()), "w").close()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.001)
with dagster_instance() as instance:
    instance.get_runs(limit=1)
"""


@pytest.mark.slow
def test_first_commands_at_once_on_a_fresh_dagster_home_all_succeed(tmp_path):
    for attempt in range(5):
        home = tmp_path / f"home{attempt}"
        home.mkdir()
        shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
        go = home / "go"
        env = cli_env(DAGSTER_HOME=str(home))
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", FIRST_USE, str(go)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        while len(list(home.glob("go.*"))) < len(procs):  # every process has imported
            assert all(p.poll() is None for p in procs)
            time.sleep(0.05)
        go.touch()  # ... then all open the fresh instance at the same moment
        for proc in procs:
            _, err = proc.communicate(timeout=HANG_GUARD_SECONDS)
            assert proc.returncode == 0, err[-2000:]
        with open_instance(home) as instance:  # and the instance is not left broken
            assert instance.get_runs() == []


def test_repo_dagster_yaml_enables_run_monitoring_that_frees_slots(home):
    with open_instance(home) as instance:
        assert instance.run_monitoring_enabled
        settings = instance.run_monitoring_settings
        assert settings["free_slots_after_run_end_seconds"] > 0
        assert settings["max_runtime_seconds"] > 0
        assert settings["max_resume_run_attempts"] == 0  # the default launcher cannot resume
        assert "MONITORING" in instance.get_required_daemon_types()
        assert instance.global_op_concurrency_default_limit == 1
