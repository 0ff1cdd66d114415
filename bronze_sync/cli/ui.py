"""`bronze-sync ui`: the Dagster UI on the instance the commands of this folder record into."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from bronze_sync.cli import cli, config_option, console
from bronze_sync.cli.dagster_home import dagster_home
from bronze_sync.cli.demo import DATA_ENV
from bronze_sync.config import CONFIG_ENV, load_config


@cli.command()
@config_option
@click.option("--port", default=3000, show_default=True, help="Port of the web UI.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--data-dir", default=None, help="The demo's --data-dir, when it was not ./data.")
def ui(config_path: str | None, port: int, host: str, data_dir: str | None) -> None:
    """Open the Dagster UI (`dagster dev`: web server and daemon) on this folder's instance.

    It shows every run the commands made here: sync batches as partitions, check results,
    purge and rollback runs. Ctrl-C stops it.
    """
    env = dict(os.environ)
    if data_dir:
        env[DATA_ENV] = str(Path(data_dir).absolute())
        os.environ[DATA_ENV] = env[DATA_ENV]
    config = load_config(config_path)  # a bad configuration fails here, exit 2
    if config.file:
        env[CONFIG_ENV] = config.file
    env["DAGSTER_HOME"] = str(dagster_home())
    console.print(
        f"Dagster UI on [bold]http://{host}:{port}[/] (instance {env['DAGSTER_HOME']}, "
        f"config {config.file or 'bundled demo'}); Ctrl-C stops it"
    )
    command = [sys.executable, "-m", "dagster", "dev", "-m", "bronze_sync.definitions"]
    os.execve(sys.executable, [*command, "-h", host, "-p", str(port)], env)
