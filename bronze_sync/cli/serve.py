"""`bronze-sync webserver` and `bronze-sync daemon`: Dagster's two long-running processes.

In production (docs/deploy.md) they run separately on an instance that keeps its runs in
PostgreSQL (deploy/dagster.yaml). Each checks first that this database answers, so a wrong
host or a database that is down fails at once with one line naming host, port and database
(never the password), then replaces itself with `dagster-webserver` / `dagster-daemon run`
for the bronze_sync code location.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from bronze_sync.cli import cli, config_option, console
from bronze_sync.cli.dagster_home import dagster_home
from bronze_sync.cli.instance_db import check_reachable, instance_postgres
from bronze_sync.config import CONFIG_ENV, load_config

CODE_LOCATION = "bronze_sync.definitions"
LOG_LEVELS = click.Choice(["critical", "error", "warning", "info", "debug"])


def prepared_env(config_path: str | None) -> tuple[dict[str, str], Path, str]:
    """Check the configuration and the instance's database; return env, home and storage."""
    config = load_config(config_path)  # a bad configuration fails here, exit 2
    home = dagster_home()
    target = instance_postgres(home)
    if target is not None:
        check_reachable(target)
    env = dict(os.environ)
    if config.file:
        env[CONFIG_ENV] = config.file
    env["DAGSTER_HOME"] = str(home)
    storage = f"PostgreSQL {target.describe()}" if target else f"{home} (SQLite)"
    return env, home, storage


def exec_module(module: str, args: list[str], env: dict[str, str]) -> None:
    """Replace this process with `python -m module args` (signals then reach Dagster itself)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", module, *args], env)


@cli.command()
@config_option
@click.option("--port", default=3000, show_default=True, help="Port of the web UI.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--log-level", type=LOG_LEVELS, default="warning", show_default=True, help="Dagster's logs."
)
def webserver(config_path: str | None, port: int, host: str, log_level: str) -> None:
    """Run the Dagster web server alone (no daemon) on $DAGSTER_HOME's instance.

    Pair it with `bronze-sync daemon`, which runs schedules, sensors and the run queue.
    """
    env, home, storage = prepared_env(config_path)
    console.print(
        f"Dagster web server on [bold]http://{host}:{port}[/] (instance {home}, runs in {storage})"
    )
    exec_module(
        "dagster_webserver",
        ["-m", CODE_LOCATION, "-h", host, "-p", str(port), "--log-level", log_level],
        env,
    )


@cli.command()
@config_option
@click.option(
    "--log-level", type=LOG_LEVELS, default="info", show_default=True, help="Dagster's logs."
)
def daemon(config_path: str | None, log_level: str) -> None:
    """Run the Dagster daemon: schedules, sensors, the run queue and run monitoring.

    Run exactly one per instance, next to one or more `bronze-sync webserver`.
    """
    env, home, storage = prepared_env(config_path)
    console.print(f"Dagster daemon (instance {home}, runs in {storage})")
    exec_module("dagster._daemon", ["run", "-m", CODE_LOCATION, "--log-level", log_level], env)
