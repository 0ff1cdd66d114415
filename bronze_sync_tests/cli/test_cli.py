"""The command line, run as a user would: exit codes 0/1/2 and readable output."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

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
def test_demo_tells_the_whole_story(tmp_path):
    done = run("demo", cwd=tmp_path)
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
    assert (tmp_path / "data" / "bronze" / "account" / "_delta_log").is_dir()
