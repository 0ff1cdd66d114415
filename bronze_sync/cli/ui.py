"""`bronze-sync ui`: the Dagster UI on the instance the commands of this folder record into."""

from __future__ import annotations

import os
from pathlib import Path

import click

from bronze_sync.cli import cli, config_option, console
from bronze_sync.cli.demo import DATA_ENV
from bronze_sync.cli.serve import CODE_LOCATION, exec_module, prepared_env
from bronze_sync.config import CONFIG_ENV


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
    if data_dir:
        os.environ[DATA_ENV] = str(Path(data_dir).absolute())
    env, home, storage = prepared_env(config_path)
    console.print(
        f"Dagster UI on [bold]http://{host}:{port}[/] (instance {home}, runs in {storage}, "
        f"config {env.get(CONFIG_ENV, 'bundled demo')}); Ctrl-C stops it"
    )
    exec_module("dagster", ["dev", "-m", CODE_LOCATION, "-h", host, "-p", str(port)], env)
