"""`bronze-sync pii reveal`: the clear value behind a token, for those who hold the vault key."""

from __future__ import annotations

import os

import click

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli import cli, config_option
from bronze_sync.config import load_config
from bronze_sync.config.pii_key import VAULT_KEY_ENV, pii_key
from bronze_sync.metadata import MetadataStore
from bronze_sync.pii.vault import reveal


@cli.group()
def pii() -> None:
    """Work with protected (PII) columns."""


@pii.command("reveal")
@config_option
@click.option("--table", "table_name", required=True, help="Bronze table.")
@click.option("--column", required=True, help="Tokenized column.")
@click.option("--token", required=True, help="Token as bronze holds it (tok_…).")
def reveal_token(config_path: str | None, table_name: str, column: str, token: str) -> None:
    """Print the clear value behind a token; needs BRONZE_PII_VAULT_KEY (exit 2 without).

    Exit 1 when the token is not in the vault or the key cannot decrypt it.
    """
    config = load_config(config_path)
    table = config.table(table_name)
    if table.pii.get(column) != "tokenize":
        raise click.UsageError(f"table {table.name}: column {column} is not tokenized")
    key = pii_key(os.environ, f"pii reveal --table {table.name}", VAULT_KEY_ENV, "tokenize")
    meta = MetadataStore(BronzeStore.from_config(config.bronze))
    click.echo(reveal(meta, table.name, column, token, key))
