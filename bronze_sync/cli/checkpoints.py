"""`bronze-sync checkpoints [validate]` and `bronze-sync checkpoint create|retire`."""

from __future__ import annotations

import datetime as dt
import getpass
import sys

import click

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import Checkpoint, CheckpointType, find_checkpoint, list_checkpoints
from bronze_sync.checkpoints.lifecycle import (
    INTEGRITY,
    check_manual_name,
    check_retention,
    retirable,
)
from bronze_sync.checkpoints.model import VALIDATED
from bronze_sync.cli import cli, config_option, console, err_console, split_tables, tables_option
from bronze_sync.cli.job_runs import failure_message, run_job
from bronze_sync.cli.render import simple_table
from bronze_sync.cli.runner import dagster_instance
from bronze_sync.config import load_config
from bronze_sync.defs.checkpoints import MANUAL_OP, RETIRE_OP
from bronze_sync.defs.location import (
    load_manual_checkpoint_job,
    load_retire_checkpoint_job,
    load_validate_checkpoints_job,
)
from bronze_sync.errors import CheckpointUsageError
from bronze_sync.metadata import MetadataStore

COLUMNS = ["name", "type", "created (UTC)", "tables", "rows", "restorable", "expires"]
TYPES = [t.value for t in CheckpointType]


@cli.group(invoke_without_command=True)
@config_option
@click.option("--all", "include_all", is_flag=True, help="Include inactive (superseded) ones.")
@click.option(
    "--type", "kind", default=None, help=f"Only this type: {', '.join(TYPES)} (any case)."
)
@click.pass_context
def checkpoints(
    ctx: click.Context, config_path: str | None, include_all: bool, kind: str | None
) -> None:
    """List checkpoints, newest first (default: active ones); see also `validate`."""
    ctx.ensure_object(dict)["config_path"] = config_path
    if ctx.invoked_subcommand is not None:
        return
    config = load_config(config_path)
    store = BronzeStore.from_config(config.bronze)
    chosen = checkpoint_type(kind)
    found = list_checkpoints(MetadataStore(store), include_inactive=include_all, kind=chosen)
    print_checkpoints(found, include_all, f"checkpoints at {store.root}")


@checkpoints.command("validate")
@config_option
@click.pass_context
def validate(ctx: click.Context, config_path: str | None) -> None:
    """Check every active checkpoint is still restorable (runs validate_checkpoints); exit 1
    if one is not."""
    config = load_config(config_path or (ctx.obj or {}).get("config_path"))
    store = BronzeStore.from_config(config.bronze)
    with (
        dagster_instance() as instance,
        run_job(load_validate_checkpoints_job, config, instance) as r,
    ):
        # The job records every verdict in CheckpointHistory; they are read back below.
        failed = None if r.success else failure_message(r)
    active = list_checkpoints(MetadataStore(store))
    print_checkpoints(active, False, "active checkpoints after integrity validation")
    broken = [c for c in active if c.validation_status != VALIDATED]
    for c in broken:
        console.print(f"[red]{c.name}[/]: {_integrity_note(c)}")
    if broken:
        err_console.print(f"[red]{len(broken)} active checkpoint(s) can no longer be restored[/]")
        sys.exit(1)
    if failed:
        err_console.print(f"[red]validation failed:[/] {failed}")
        sys.exit(1)
    console.print(f"All {len(active)} active checkpoint(s) are restorable.")


@cli.group()
def checkpoint() -> None:
    """Create checkpoints by hand; retire permanent ones."""


@checkpoint.command("create")
@config_option
@click.option("--name", required=True, help="Checkpoint name (letters, digits, '_', '.', '-').")
@tables_option
@click.option("--notes", default=None, help="Why; kept with the checkpoint.")
@click.option("--retain-days", type=int, default=None, help="Keep it N days instead of 30.")
@click.option("--keep-forever", is_flag=True, help="Permanent: only `checkpoint retire` ends it.")
def create(
    config_path: str | None,
    name: str,
    tables: str | None,
    notes: str | None,
    retain_days: int | None,
    keep_forever: bool,
) -> None:
    """Pin the current versions of bronze tables as a Manual checkpoint (kept 30 days)."""
    config = load_config(config_path)
    check_manual_name(name)
    check_retention(retain_days, keep_forever)
    names = split_tables(tables)
    config.select_tables(names)  # unknown tables fail here with exit 2
    existing = find_checkpoint(MetadataStore(BronzeStore.from_config(config.bronze)), name)
    if existing is not None and existing.is_active and existing.permanent:
        raise CheckpointUsageError(
            f"checkpoint {name} is permanent and cannot be replaced; end it first with "
            f"`bronze-sync checkpoint retire {name} --reason ...`"
        )
    settings: dict[str, object] = {"name": name, "tables": names or ["All"], "notes": notes}
    settings |= {"retain_days": retain_days, "keep_forever": keep_forever}
    ops = {MANUAL_OP: {"config": settings}}
    with (
        dagster_instance() as instance,
        run_job(load_manual_checkpoint_job, config, instance, ops) as r,
    ):
        if not r.success:
            err_console.print(f"[red]checkpoint not created:[/] {failure_message(r)}")
            sys.exit(1)
    made = find_checkpoint(MetadataStore(BronzeStore.from_config(config.bronze)), name)
    assert made is not None
    console.print(
        f"Checkpoint [bold]{made.name}[/] (Manual) pins "
        + ", ".join(f"{t}@v{v}" for t, v in sorted(made.table_versions.items()))
        + f"; {made.total_rows:,} rows; "
        + ("kept until retired (permanent)" if made.permanent else f"kept until {made.expires()}")
    )


@checkpoint.command("retire")
@config_option
@click.argument("name")
@click.option("--reason", required=True, help="Why the permanent checkpoint may go (audited).")
@click.option("--by", default=None, help="Who retires it (default: the current user).")
def retire(config_path: str | None, name: str, reason: str, by: str | None) -> None:
    """End a permanent checkpoint (PrePurge or --keep-forever): the only way one stops."""
    config = load_config(config_path)
    meta = MetadataStore(BronzeStore.from_config(config.bronze))
    if not reason.strip():
        raise click.BadParameter("give the reason the checkpoint may go", param_hint="--reason")
    retirable(meta, name)  # unknown, inactive or not permanent: exit 2, nothing written
    who = by or getpass.getuser()
    ops = {RETIRE_OP: {"config": {"name": name, "reason": reason, "retired_by": who}}}
    with (
        dagster_instance() as instance,
        run_job(load_retire_checkpoint_job, config, instance, ops) as r,
    ):
        if not r.success:
            err_console.print(f"[red]checkpoint not retired:[/] {failure_message(r)}")
            sys.exit(1)
    console.print(f"Checkpoint [bold]{name}[/] retired by {who}; it is no longer active.")


def print_checkpoints(found: list[Checkpoint], include_all: bool, title: str) -> None:
    """Print checkpoints as a table (with an `active` column when inactive ones are shown)."""
    if not found:
        console.print("no checkpoints" + ("" if include_all else " (active); try --all"))
        return
    today = dt.datetime.now(dt.UTC).date()
    columns = COLUMNS + (["active"] if include_all else [])
    rows = []
    for c in found:
        expires = c.expires()
        if not c.permanent and c.retention_date < today:
            expires += " (expired)"
        row = [
            c.name,
            c.type.value,
            c.created.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M"),
            _tables(c),
            c.total_rows,
            "yes" if c.validation_status == VALIDATED else f"NO ({c.validation_status})",
            expires,
        ]
        rows.append(row + (["yes" if c.is_active else "no"] if include_all else []))
    console.print(simple_table(title, columns, rows))


def _tables(c: Checkpoint) -> str:
    names = sorted(c.table_versions)
    shown = ", ".join(names[:3])
    return shown + (f" (+{len(names) - 3})" if len(names) > 3 else "")


def _integrity_note(c: Checkpoint) -> str:
    parts = [p for p in (c.notes or "").split("; ") if p.startswith(INTEGRITY)]
    return parts[-1] if parts else (c.notes or c.validation_status)


def checkpoint_type(kind: str | None) -> CheckpointType | None:
    """Return the checkpoint type a --type value names (any case), else a usage error."""
    if kind is None:
        return None
    for known in CheckpointType:
        if known.value.lower() == kind.lower():
            return known
    raise click.BadParameter(f"{kind!r} is not one of {', '.join(TYPES)}", param_hint="--type")
