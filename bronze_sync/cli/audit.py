"""`bronze-sync audit`: record versions a Delta log lost; verify and seal the hash chain."""

from __future__ import annotations

import dataclasses
import getpass
import json
import sys
import uuid

import click

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli import cli, config_option, console, split_tables, tables_option
from bronze_sync.config import load_config
from bronze_sync.errors import AuditChainError
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.metadata.audit_verify import seal_chain, verify_chain
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


@audit.command("verify")
@config_option
@click.option("--seal", is_flag=True, help="First chain the rows written before the chain.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(config_path: str | None, seal: bool, as_json: bool) -> None:
    """Verify SyncAuditLog's hash chain: exit 0 when intact, 1 naming the first broken row.

    With --seal, rows written before the chain existed are chained first (oldest first, one
    commit); rows already chained must verify, else nothing is written.
    """
    config = load_config(config_path)
    meta = MetadataStore(BronzeStore.from_config(config.bronze))
    sealed = 0
    if seal:
        try:
            sealed = seal_chain(meta)
        except AuditChainError as exc:
            console.print(f"[red]{exc}[/red]")
            sys.exit(1)
    report = verify_chain(meta)
    if as_json:
        click.echo(json.dumps({**dataclasses.asdict(report), "ok": report.ok, "sealed": sealed}))
    else:
        if seal:
            console.print(f"sealed {sealed:,} row(s) written before the chain")
        if report.ok:
            console.print(
                f"SyncAuditLog: {report.rows:,} rows chained and intact; tip ChainSeq "
                f"{report.tip.seq}, hash {report.tip.row_hash}"
            )
        else:
            console.print(f"[red]SyncAuditLog chain broken: {report.problem}[/red]")
    sys.exit(0 if report.ok else 1)
