"""`bronze-sync demo`: the whole story on an embedded SQLite source."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path

import click
import pyarrow.compute as pc
import sqlalchemy as sa
from rich.table import Table

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli import cli, console
from bronze_sync.cli.demo_kinds import report_kinds
from bronze_sync.cli.purge import execute_purge, print_impact
from bronze_sync.cli.render import print_run, simple_table
from bronze_sync.cli.runner import dagster_instance, run_daily_sync
from bronze_sync.clock import utc_now
from bronze_sync.config import Config, load_config
from bronze_sync.config.loader import default_config_path
from bronze_sync.config.storage_options import display_uri
from bronze_sync.demo.kinds import KindChanges, change_kind_tables
from bronze_sync.demo.scenario import TableChanges, change_source, purge_cutoff
from bronze_sync.demo.seeds import build_source
from bronze_sync.errors import ConfigError
from bronze_sync.purge import PurgeRequest

DATA_ENV = "BRONZE_SYNC_DATA"


@cli.command()
@click.option(
    "--data-dir",
    default="./data",
    show_default=True,
    help="Where the demo writes its SQLite source and bronze tables (replaced on each run).",
)
@click.option(
    "--source",
    "source_kind",
    type=click.Choice(["sql", "dataverse"]),
    default="sql",
    show_default=True,
    help="sql: an embedded SQLite source; dataverse: the local Dataverse emulator.",
)
def demo(data_dir: str, source_kind: str = "sql") -> None:
    """Build the demo source, sync, change the source (incl. a purge), sync again, report."""
    if "://" in data_dir:
        # Path() would take "abfss://c@a/…" for a relative folder named "abfss:".
        raise ConfigError(
            f"--data-dir {display_uri(data_dir)}: the demo needs a local folder (its SQLite "
            "source lives there); nothing was written"
        )
    data = Path(data_dir).absolute()
    os.environ[DATA_ENV] = str(data)
    if source_kind == "dataverse":
        from bronze_sync.cli.demo_dataverse import run_dataverse_demo

        _reset(data, BronzeStore(root=str(data / "bronze")))
        if not run_dataverse_demo(data):
            sys.exit(1)
        return
    config = load_config(default_config_path())
    store = BronzeStore.from_config(config.bronze)
    _reset(data, store)
    now = utc_now()
    engine = sa.create_engine(config.sql_source().url)
    console.rule("[bold]1. The source: a CRM with seven years of history")
    counts = build_source(engine, now.date())
    console.print(simple_table("source tables (SQLite)", ["table", "rows"], counts.items()))

    yesterday = (now.date() - dt.timedelta(days=1)).isoformat()
    with dagster_instance() as instance:
        console.rule(f"[bold]2. First sync (batch {yesterday}): every table is created in bronze")
        print_run(console, run_daily_sync(config, instance, yesterday))

        console.rule("[bold]3. The source changes, and its admin purges rows older than 5 years")
        changes = change_source(engine, utc_now())
        with engine.begin() as conn:
            kind_changes = change_kind_tables(conn, utc_now())
        cutoff = purge_cutoff(now.date())
        console.print(_changes_table(changes, cutoff))
        console.print(_kind_changes_line(kind_changes))
        # The admin records the purge: the purge_metadata_update job (bronze-sync purge).
        request = PurgeRequest(
            purge_date=cutoff.date(),
            tables=tuple(changes),
            notes="demo: 5-year retention purge",
        )
        recorded, _ = execute_purge(config, instance, request)
        print_impact(recorded.plan.report)
        if recorded.checkpoint:
            console.print(f"Pre-purge checkpoint [bold]{recorded.checkpoint.name}[/]")

        today = now.date().isoformat()
        console.rule(f"[bold]4. Second sync (batch {today})")
        outcome = run_daily_sync(config, instance, today)
        print_run(console, outcome)

    console.rule("[bold]5. What bronze holds now")
    ok = _report(config, store, changes, cutoff)
    ok &= report_kinds(console, config, store, engine, kind_changes, outcome)
    extra = "" if data == Path("./data").absolute() else f" --data-dir {data}"
    _history_hint(store, data)
    console.print(
        f"\nNext: [bold]bronze-sync status[/], or see these runs in the Dagster UI: "
        f"[bold]bronze-sync ui{extra}[/] (then http://127.0.0.1:3000)."
    )
    if not (ok and outcome.success):
        sys.exit(1)


def _history_hint(store: BronzeStore, data: Path) -> None:
    """Point at the row history of one purged donation (README, Row history)."""
    delta = store.open(store.table_uri("donation"))
    if delta is None:
        return
    flags = delta.to_pyarrow_table(columns=["donationid", "IsPurged"])
    purged = sorted(flags.filter(flags.column("IsPurged")).column("donationid").to_pylist())
    if purged:
        env = "" if data == Path("./data").absolute() else f"{DATA_ENV}={data} "
        console.print(
            "\nEvery version of every row is kept in bronze's row history; one purged donation: "
            f"[bold]{env}bronze-sync history --table donation --key {purged[0]}[/]"
        )


def _reset(data: Path, store: BronzeStore) -> None:
    data.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(store.root, ignore_errors=True)
    (data / "demo_source.sqlite").unlink(missing_ok=True)


def _kind_changes_line(changes: KindChanges) -> str:
    return (
        f"campaign_daily: a new close of business {changes.new_cobid}; account_tier_history: "
        f"{changes.new_versions} accounts moved to a new tier (their old version no longer "
        "current); currency: unchanged"
    )


def _changes_table(changes: dict[str, TableChanges], cutoff: dt.datetime) -> Table:
    rows = [[n, c.updated, c.inserted, c.deleted, c.purged] for n, c in changes.items()]
    return simple_table(
        f"source changes (purge: rows created before {cutoff.date()}, recorded as LastPurgeDate)",
        ["table", "updated", "inserted", "deleted (recent)", "purged (old)"],
        rows,
    )


def _report(
    config: Config, store: BronzeStore, changes: dict[str, TableChanges], cutoff: dt.datetime
) -> bool:
    rows, all_ok = [], True
    for table in config.tables:
        if table.name not in changes:
            continue  # the other kinds have their own report
        delta = store.open(store.table_uri(table.name))
        assert delta is not None
        data = delta.to_pyarrow_table(columns=["createdon", "IsDeleted", "IsPurged"])
        deleted = data.filter(data.column("IsDeleted"))
        purged = data.filter(data.column("IsPurged"))
        expected = changes[table.name]
        purged_old = pc.all(pc.less(purged.column("createdon"), cutoff)).as_py() in (True, None)
        deleted_recent = pc.all(pc.greater_equal(deleted.column("createdon"), cutoff)).as_py() in (
            True,
            None,
        )
        ok = (
            deleted.num_rows == expected.deleted
            and purged.num_rows == expected.purged
            and purged_old
            and deleted_recent
        )
        all_ok &= ok
        rows.append(
            [
                table.name,
                data.num_rows,
                data.num_rows - deleted.num_rows - purged.num_rows,
                deleted.num_rows,
                purged.num_rows,
                "[green]yes[/]" if ok else "[red]NO[/]",
            ]
        )
    console.print(
        simple_table(
            "bronze (nothing was removed: purged rows stay, flagged IsPurged)",
            ["table", "total", "active", "IsDeleted", "IsPurged", "matches the source's story"],
            rows,
        )
    )
    console.print(
        f"IsPurged rows were all created before {cutoff.date()} (the recorded purge date); "
        "IsDeleted rows were all created after it."
        if all_ok
        else "[red]bronze does not match what happened in the source[/]"
    )
    return all_ok
