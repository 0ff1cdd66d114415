"""`bronze-sync audit accept-lost-versions --tables T`: record versions the Delta log lost."""

from __future__ import annotations

import getpass
import sys
import uuid

import click

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli import cli, config_option, console, split_tables, tables_option
from bronze_sync.config import load_config
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.sync.recovery import accept_lost_versions


@cli.group()
def audit() -> None:
    """Inspect and repair the audit trail."""


@audit.command("accept-lost-versions")
@config_option
@tables_option
@click.option("--by", default=None, help="Who accepts the loss (default: the current user).")
def accept_lost(config_path: str | None, tables: str | None, by: str | None) -> None:
    """Record that the tables' Delta logs lost their newest versions, so syncs may go on.

    Run it only after checking the table: later commits reuse the lost version numbers and
    checkpoints that pinned them report a rewritten version. Exit 1 when a table lost
    nothing (no change is written for it).
    """
    config = load_config(config_path)
    chosen = config.select_tables(split_tables(tables))
    store = BronzeStore.from_config(config.bronze)
    meta = MetadataStore(store)
    run = RunInfo(run_id=f"audit-{uuid.uuid4()}", pipeline_name="audit")
    who = by or getpass.getuser()
    unchanged = []
    for table in chosen:
        lost = accept_lost_versions(store, meta, table, run, by=who)
        if lost is None:
            unchanged.append(table.name)
            console.print(f"{table.name}: the log lost no version; nothing recorded")
        else:
            console.print(
                f"{table.name}: versions {lost[0]}..{lost[1]} recorded as lost "
                "(audit LostVersionsAccepted); syncs may go on"
            )
    if unchanged:
        sys.exit(1)
