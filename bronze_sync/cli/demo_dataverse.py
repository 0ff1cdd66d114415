"""`bronze-sync demo --source dataverse`: the demo story on the in-process Dataverse emulator."""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from pathlib import Path

import yaml

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli import console
from bronze_sync.cli.purge import execute_purge, print_impact
from bronze_sync.cli.render import print_run, simple_table
from bronze_sync.cli.runner import dagster_instance, run_daily_sync
from bronze_sync.clock import utc_now
from bronze_sync.config import Config, load_config
from bronze_sync.demo.scenario import purge_cutoff
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.purge import PurgeRequest
from bronze_sync.sources.dataverse_choices import CHOICE_SCHEMAS, STATUS
from bronze_sync.sync import reference_step  # noqa: F401 - declares the tables' schemas
from bronze_sync.testing.dataverse import DataverseEmulator, load_demo

SECRET_ENV = "BRONZE_SYNC_DATAVERSE_SECRET"
KEYS = {"account": "accountid", "donation": "donationid", "activitypointer": "activityid"}


def write_config(emulator: DataverseEmulator, data: Path) -> Config:
    """Write and load a config syncing the demo entities from `emulator` into `data`."""
    connection = emulator.connection()
    os.environ[SECRET_ENV] = connection["client_secret"]
    source = {k: v for k, v in connection.items() if k not in {"client_secret", "tenant_id"}}
    raw = {
        "source": {"kind": "dataverse", **source, "client_secret": f"${{{SECRET_ENV}}}"},
        "bronze": {"path": str(data / "bronze")},
        "defaults": {
            "created_column": "createdon",
            "modified_column": "modifiedon",
            "max_delete_fraction": 0.10,
        },
        "sync": {"max_parallel_tables": 3, "retry_delay_seconds": 5},
        "tables": [{"name": n, "source": n, "primary_key": k} for n, k in KEYS.items()],
    }
    path = data / "dataverse_demo_config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_config(path)


def change_entities(
    emulator: DataverseEmulator, now: dt.datetime, cutoff: dt.datetime
) -> dict[str, dict[str, int]]:
    """Update, insert and delete recent rows; drop retained accounts and rows before `cutoff`."""
    rng = random.Random(7)
    expected: dict[str, dict[str, int]] = {}
    for name, key in KEYS.items():
        rows = emulator.rows(name)
        recent = sorted(k for k, r in rows.items() if r["createdon"] >= cutoff)
        rng.shuffle(recent)
        for k in recent[:25]:
            emulator.update(name, k)
        fresh = [{**rows[k], key: str(uuid.uuid4()), "createdon": now} for k in recent[25:35]]
        emulator.insert(name, fresh)
        emulator.delete(name, recent[35:45])
        purged = emulator.remove_retained(name) if name == "account" else 0
        if name != "account":
            purged = emulator.delete(name, [k for k, r in rows.items() if r["createdon"] < cutoff])
        expected[name] = {"updated": 25, "inserted": 10, "deleted": 10, "purged": purged}
    return expected


def run_dataverse_demo(data: Path) -> bool:
    """Sync the demo entities from the emulator, change them, sync again; return success."""
    now = utc_now()
    cutoff = purge_cutoff(now.date())
    with DataverseEmulator() as emulator:
        console.rule("[bold]1. The source: a Dataverse environment (local HTTPS emulator)")
        counts = load_demo(emulator, now.date())
        old_accounts = [k for k, r in emulator.rows("account").items() if r["createdon"] < cutoff]
        emulator.retain("account", sorted(old_accounts)[:40])  # long-term retention
        console.print(simple_table("entities", ["entity", "rows"], counts.items()))
        for key, value in emulator.connection().items():
            console.print(f"{key}: {'***' if key == 'client_secret' else value}")
        config = write_config(emulator, data)
        yesterday = (now.date() - dt.timedelta(days=1)).isoformat()
        with dagster_instance() as instance:
            console.rule(f"[bold]2. First sync (batch {yesterday}), change tracking on")
            print_run(console, run_daily_sync(config, instance, yesterday))
            console.rule("[bold]3. The environment changes; retained accounts leave Dataverse")
            expected = change_entities(emulator, utc_now(), cutoff)
            request = PurgeRequest(
                purge_date=cutoff.date(),
                tables=("donation", "activitypointer"),
                notes="demo: 5-year bulk delete job",
            )
            recorded, _ = execute_purge(config, instance, request)
            print_impact(recorded.plan.report)
            today = now.date().isoformat()
            console.rule(f"[bold]4. Second sync (batch {today}): only the changes are read")
            outcome = run_daily_sync(config, instance, today)
            print_run(console, outcome)
        console.rule("[bold]5. What bronze holds now")
        ok = _report(config, expected)
        _labels_report(config)
        requests = len(emulator.api_requests())
    console.print(f"The emulator answered {requests:,} Web API requests in total.")
    return ok and outcome.success


def _report(config: Config, expected: dict[str, dict[str, int]]) -> bool:
    store = BronzeStore.from_config(config.bronze)
    rows, all_ok = [], True
    for table in config.tables:
        delta = store.open(store.table_uri(table.name))
        data = delta.to_pyarrow_table(columns=["IsDeleted", "IsPurged"]) if delta else None
        deleted = data.column("IsDeleted").to_pylist().count(True) if data else 0
        purged = data.column("IsPurged").to_pylist().count(True) if data else 0
        want = expected[table.name]
        ok = (deleted, purged) == (want["deleted"], want["purged"])
        all_ok &= ok
        total = data.num_rows if data else 0
        mark = "[green]yes[/]" if ok else "[red]NO[/]"
        rows.append([table.name, total, deleted, purged, mark])
    console.print(
        simple_table(
            "bronze (deleted rows flagged IsDeleted; retained or age-purged rows IsPurged)",
            ["table", "total", "IsDeleted", "IsPurged", "matches the source's story"],
            rows,
        )
    )
    return all_ok


def _labels_report(config: Config) -> None:
    """Show the Link to Fabric metadata tables written beside the data."""
    meta = MetadataStore(BronzeStore.from_config(config.bronze))
    counts = [(f"metadata/{name}", meta.read(name).num_rows) for name in CHOICE_SCHEMAS]
    console.print(simple_table("choice labels and lookup targets", ["table", "rows"], counts))
    states = meta.read(STATUS).to_pylist()
    shown = [
        (r["EntityName"], r["State"], r["Status"], r["LocalizedLabel"])
        for r in sorted(states, key=lambda r: (r["EntityName"], r["Status"]))
    ]
    console.print(
        simple_table("metadata/StatusMetadata", ["entity", "State", "Status", "label"], shown)
    )
