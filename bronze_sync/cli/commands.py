"""The sync and status commands."""

from __future__ import annotations

import sys

import click
from rich.text import Text

from bronze_sync.bronze.reader import count_flags
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import CheckpointType, list_checkpoints
from bronze_sync.cli import cli, config_option, console, err_console, split_tables, tables_option
from bronze_sync.cli.preflight import check_sync_preflight
from bronze_sync.cli.render import config_line, print_run, simple_table
from bronze_sync.cli.runner import dagster_instance, run_daily_sync, today_key
from bronze_sync.config import load_config
from bronze_sync.config.kinds import PARTITIONED
from bronze_sync.config.models import TableConfig
from bronze_sync.defs.partitions import check_partition_key
from bronze_sync.errors import BronzeError
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.pipeline_config import read_all
from bronze_sync.sync.partition_plan import bronze_values
from bronze_sync.sync.partitioned import value_key


@cli.command()
@config_option
@tables_option
@click.option("--partition", default=None, help="Sync batch key YYYY-MM-DD (default: today, UTC).")
@click.option(
    "--partition-values",
    "partition_range",
    default=None,
    metavar="FROM:TO",
    help="Reload these values of the partitioned --tables (every value the source or bronze "
    "holds in the range, one run per table).",
)
@click.option("--allow-mass-delete", is_flag=True, help="Override the mass-delete guard once.")
def sync(
    config_path: str | None,
    tables: str | None,
    partition: str | None,
    partition_range: str | None,
    allow_mass_delete: bool,
) -> None:
    """Sync tables into bronze for one sync batch (daily_sync; partitioned tables' own jobs)."""
    config = load_config(config_path)
    key = check_partition_key(partition or today_key())
    names = split_tables(tables)
    # Configuration problems (and a bad --partition-values): exit 2, nothing written.
    chosen = check_sync_preflight(config, names, partition_range)
    if config.profile:
        console.print(config_line(config), soft_wrap=True)
    with dagster_instance() as instance:
        outcome = run_daily_sync(config, instance, key, names, allow_mass_delete, chosen)
    print_run(console, outcome)
    if not outcome.all_synced:
        sys.exit(1)


@cli.command()
@config_option
def status(config_path: str | None) -> None:
    """Show every table's bronze counts, last sync and latest checkpoint."""
    config = load_config(config_path)
    store = BronzeStore.from_config(config.bronze)
    meta = MetadataStore(store)
    states = read_all(meta)
    latest: dict[str, str] = {}
    for checkpoint in list_checkpoints(meta, kind=CheckpointType.DAILY):
        for name in checkpoint.table_versions:
            latest.setdefault(name, checkpoint.name)
    rows, unreadable = [], []
    version: int | str | None  # the Delta version, or why the table could not be read
    for table in config.tables:
        try:
            version, counts = _version_and_counts(store, table.name)
            kind = kind_text(store, table)
        except BronzeError as exc:
            kind = table.kind
            version, counts = "unreadable: " + str(exc).removeprefix(f"{table.name}: "), {}
            unreadable.append(f"{table.name}: {version}")
        state = states.get(table.name, {})
        last = state.get("LastDailySync")
        purge = state.get("LastPurgeDate")
        rows.append(
            [
                table.name,
                "yes" if table.enabled else "no",
                kind,
                version,
                counts.get("total"),
                counts.get("active"),
                counts.get("deleted"),
                counts.get("purged"),
                state.get("LastSyncStatus") or "never",
                last.strftime("%Y-%m-%d %H:%M") if last else "",
                purge.date().isoformat() if purge else "",
                latest.get(table.name, ""),
            ]
        )
    columns = [
        "table", "enabled", "kind", "version", "total", "active", "deleted", "purged",
        "last status", "last sync (UTC)", "last purge", "latest checkpoint",
    ]  # fmt: skip
    console.print(simple_table(f"bronze at {store.root}", columns, rows, no_wrap=["table", "kind"]))
    for line in unreadable:
        err_console.print(Text(line), soft_wrap=True)
    if unreadable:
        sys.exit(1)


def kind_text(store: BronzeStore, table: TableConfig) -> str:
    """Return the table's kind; a partitioned one's with the values bronze holds (and how many)."""
    if table.kind != PARTITIONED:
        return table.kind
    values = [value_key(v) for v in bronze_values(store, table)]
    if len(values) > 1:
        return f"{table.kind} {values[0]}..{values[-1]} ({len(values)})"
    return f"{table.kind} {values[0] if values else '(none loaded)'}"


def _version_and_counts(store: BronzeStore, table: str) -> tuple[int | None, dict[str, int]]:
    """Return the table's Delta version and flag counts (None, {} when it does not exist)."""
    uri = store.table_uri(table)
    delta = store.open(uri)
    if delta is None:
        return None, {}
    with store.reading(uri):
        return delta.version(), count_flags(delta)
