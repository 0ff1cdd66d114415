"""An instance whose PostgreSQL cannot be reached: one clear line, host named, no password."""

from __future__ import annotations

import pytest
import yaml

from bronze_sync.cli.instance_db import (
    InstanceUnreachableError,
    check_reachable,
    instance_postgres,
)
from bronze_sync.errors import ConfigError
from bronze_sync_tests.cli.processes import cli_env, run_cli
from bronze_sync_tests.deploy.conftest import free_port, pg_env

PASSWORD = "Sup3r-s3cret-pw"  # a test value that must never be printed


@pytest.mark.slow
@pytest.mark.parametrize("command", ["daemon", "webserver"])
def test_server_exits_naming_the_host_without_the_password(command, deploy_home, tmp_path):
    port = free_port()  # nothing listens there: the connection is refused
    env = cli_env(DAGSTER_HOME=str(deploy_home), **pg_env("dagster", port, PASSWORD))
    done = run_cli(command, env=env, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert f"127.0.0.1:{port}, database dagster" in done.stderr
    assert "cannot reach the Dagster instance's PostgreSQL" in done.stderr
    assert PASSWORD not in output
    assert "Traceback" not in output


def test_url_form_is_read_and_its_password_kept_out_of_errors(tmp_path, monkeypatch):
    port = free_port()
    url = f"postgresql://bronze:{PASSWORD}@127.0.0.1:{port}/runs?sslmode=disable"
    monkeypatch.setenv("TEST_DAGSTER_PG_URL", url)
    settings = {"storage": {"postgres": {"postgres_url": {"env": "TEST_DAGSTER_PG_URL"}}}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(settings))
    target = instance_postgres(tmp_path)
    assert target is not None
    assert (target.host, target.port, target.database, target.user) == (
        "127.0.0.1",
        port,
        "runs",
        "bronze",
    )
    assert PASSWORD not in repr(target)
    with pytest.raises(InstanceUnreachableError) as failed:
        check_reachable(target, timeout_seconds=2)
    assert f"127.0.0.1:{port}, database runs, user bronze" in str(failed.value)
    assert PASSWORD not in str(failed.value)


def test_a_missing_variable_is_named(tmp_path, monkeypatch, deploy_home):
    for name, value in pg_env("dagster", password=PASSWORD).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_PG_HOST")
    with pytest.raises(ConfigError, match="DAGSTER_PG_HOST is not set"):
        instance_postgres(deploy_home)


def test_sqlite_instance_needs_no_check(tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert instance_postgres(tmp_path) is None
