"""`bronze-sync pii reveal`: the clear value behind a token, for those who hold the vault key."""

from __future__ import annotations

import os
import uuid

import click

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli import cli, config_option
from bronze_sync.config import load_config
from bronze_sync.config.pii_key import VAULT_KEY_ENV, pii_key
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.audit import RunInfo
from bronze_sync.pii.migrate import execute_migration, plan_migration
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


@pii.command("migrate")
@config_option
@click.option("--table", "table_name", required=True, help="Bronze table.")
@click.option("--execute", is_flag=True, help="Rewrite the table (default: a dry run).")
def migrate(config_path: str | None, table_name: str, execute: bool) -> None:
    """Rewrite a table's stored values under its newly configured pii policies, in one commit.

    Without --execute, print what would change and write nothing. Exit 2 for a change that
    cannot be migrated (hash or mask back to clear) or a missing key, 1 when refused.
    """
    config = load_config(config_path)
    table = config.table(table_name)
    store = BronzeStore.from_config(config.bronze)
    meta = MetadataStore(store)
    if not execute:
        plan = plan_migration(store, meta, table)
        for line in plan.lines():
            click.echo(line)
        if plan.moves:
            click.echo("Dry run: nothing was written. Run again with --execute to migrate.")
        return
    run = RunInfo(run_id=f"pii-migrate-{uuid.uuid4()}", pipeline_name="pii_migrate")
    outcome = execute_migration(store, meta, table, os.environ, run)
    for line in outcome.plan.lines():
        click.echo(line)
    if not outcome.plan.moves:
        return
    click.echo(f"Migrated: bronze version {outcome.version}")
    if outcome.history_rewritten:
        click.echo("Row history rewritten in one commit")
    if outcome.tokens_stored:
        click.echo(f"Vault: {outcome.tokens_stored:,} token(s) stored")
    for column, count in outcome.tokens_forgotten.items():
        click.echo(f"Vault: {count:,} entr{'y' if count == 1 else 'ies'} of {column} removed")
    click.echo(
        f"The old values remain in the Delta versions before {outcome.version} until VACUUM: "
        "run `bronze-sync maintenance` after the retention period to remove them"
    )
