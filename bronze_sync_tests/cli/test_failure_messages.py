"""Every sync failure is one clear message: exit 2 before any write, or 1 for a failed run."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from bronze_sync.errors import BronzeSyncError
from bronze_sync_tests.cli.processes import cli_env, run_cli
from bronze_sync_tests.helpers import PgTable

UNREACHABLE = "postgresql+psycopg://postgres:s3cr3t-pw@127.0.0.1:1/test"


def run_count(home: str) -> int:
    with dg.DagsterInstance.get() as instance:  # the fixture set DAGSTER_HOME to `home`
        return len(instance.get_runs())


@pytest.mark.slow
def test_missing_source_table_exits_2_with_one_line_and_writes_nothing(
    pg_schema, make_config, bronze_root, tmp_path
):
    ghost = {"name": "ghost", "source": f"{pg_schema}.ghost", "primary_key": "id"}
    config = make_config([ghost])
    home = tmp_path / "home"
    home.mkdir()
    done = run_cli("sync", "--config", config.file, env=cli_env(DAGSTER_HOME=str(home)))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"configuration error: ghost: source table '{pg_schema}.ghost' does not exist "
        "(nothing was written)"
    ]
    assert not bronze_root.exists()  # no metadata table was created
    assert not (home / "history").exists()  # no Dagster run was launched


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"primary_key": "account_id"}, "primary key column 'account_id' is not a column of"),
        ({"created_column": "created"}, "created_column 'created' is not a column of"),
        ({"modified_column": "changed"}, "modified_column 'changed' is not a column of"),
    ],
)
def test_missing_configured_column_exits_2_before_anything_is_written(
    pg_engine, pg_schema, make_config, bronze_root, run, dagster_home, setting, message
):
    account = PgTable(pg_engine, pg_schema)
    config = make_config([account.config(**setting)])
    runs_before = run_count(dagster_home)
    done = run("sync", "--config", config.file)
    assert done.returncode == 2
    assert f"configuration error: account: {message} {pg_schema}.account" in done.stderr
    assert not bronze_root.exists()
    assert run_count(dagster_home) == runs_before


def bronze_path(kind: str, tmp_path: Path) -> tuple[str, str]:
    if kind == "file":
        (tmp_path / "bronze_file").write_text("not a folder")
        return str(tmp_path / "bronze_file"), "is a file, not a folder"
    if kind == "under a file":
        (tmp_path / "plain").write_text("not a folder")
        return str(tmp_path / "plain" / "bronze"), f"{tmp_path / 'plain'} is a file"
    # /sys refuses new files even to root (os.access says yes there).
    return "/sys/bronze_sync_test", "is read-only (/sys, where it would be created)"


@pytest.mark.parametrize("kind", ["file", "under a file", "read-only"])
def test_unusable_bronze_path_exits_2_before_anything_is_written(
    pg_engine, pg_schema, make_config, run, dagster_home, tmp_path, kind
):
    account = PgTable(pg_engine, pg_schema)
    path, message = bronze_path(kind, tmp_path)
    config = make_config([account.config()], bronze={"path": path})
    runs_before = run_count(dagster_home)
    done = run("sync", "--config", config.file)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "configuration error: bronze.path: " in done.stderr and message in done.stderr
    assert run_count(dagster_home) == runs_before
    assert not Path(path, "metadata").exists()


def test_unknown_table_exits_2(make_config, run):
    config = make_config([{"name": "a", "source": "a", "primary_key": "id"}])
    done = run("sync", "--config", config.file, "--tables", "zzz")
    assert done.returncode == 2 and "unknown table 'zzz'" in done.stderr


@pytest.mark.slow
def test_unreachable_database_is_retried_then_one_line_names_table_and_host(
    pg_engine, pg_schema, make_config
):
    account = PgTable(pg_engine, pg_schema)
    config = make_config(
        [account.config()],
        source={"url": UNREACHABLE, "connect_timeout_seconds": 1},
        sync={"max_retries": 1, "retry_delay_seconds": 0},
    )
    done = run_cli("sync", "--config", config.file, env=cli_env())
    assert done.returncode == 1
    assert "s3cr3t" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "dagster - " not in done.stderr
    (line,) = [line for line in done.stdout.splitlines() if "cannot reach" in line]
    assert line.startswith("account: cannot reach the postgresql source at 127.0.0.1:1: ")
    assert line.endswith("(gave up after 2 attempts)")
    assert "│ account │ Failed" in done.stdout  # the run's table is still printed


@pytest.mark.slow
def test_verbose_flag_shows_dagster_logs_and_python_tracebacks(pg_engine, pg_schema, make_config):
    account = PgTable(pg_engine, pg_schema)
    config = make_config(
        [account.config()],
        source={"url": UNREACHABLE, "connect_timeout_seconds": 1},
        sync={"max_retries": 0},
    )
    failed_run = run_cli("-v", "sync", "--config", config.file, env=cli_env())
    assert failed_run.returncode == 1
    assert "dagster - INFO" in failed_run.stderr and "STEP_FAILURE" in failed_run.stderr
    assert "s3cr3t" not in failed_run.stdout + failed_run.stderr

    ghost = make_config([{"name": "ghost", "source": f"{pg_schema}.ghost", "primary_key": "id"}])
    refused = run_cli("--verbose", "sync", "--config", ghost.file, env=cli_env())
    assert refused.returncode == 2
    assert "Traceback (most recent call last)" in refused.stderr
    assert "bronze_sync.errors.ConfigError: ghost: source table" in refused.stderr


def test_open_circuit_breaker_makes_sync_exit_1_with_the_reason_and_reset_command(
    pg_engine, pg_schema, make_config, harness_for, run
):
    config = make_config(
        [{"name": "account", "source": f"{pg_schema}.account", "primary_key": "id"}]
    )
    h = harness_for(config)
    for _ in range(5):  # five failed syncs (the source table is missing) open the breaker
        with pytest.raises(BronzeSyncError, match="does not exist"):
            h.sync()
    PgTable(pg_engine, pg_schema).insert_ids(["a"])  # fixed, but the breaker is still open

    done = run("sync", "--config", config.file)

    assert done.returncode == 1
    assert "│ account │ Skipped" in done.stdout
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("account:")]
    assert "skipped: circuit breaker open since" in line
    assert "after 5 consecutive failed syncs" in line
    assert line.endswith("bronze-sync breaker reset --tables account")
