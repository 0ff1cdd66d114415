"""`bronze-sync rules`: evaluate the monitoring rules now, from a terminal."""

from __future__ import annotations

import dataclasses
import json
import sys

import click

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli import cli, config_option, console
from bronze_sync.cli.render import simple_table
from bronze_sync.clock import utc_now
from bronze_sync.config import load_config
from bronze_sync.metadata import MetadataStore
from bronze_sync.monitoring.rules import evaluate_rules, gather

COLUMNS = ["rule", "table", "state", "measured", "threshold", "severity", "what"]


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def rules(config_path: str | None, as_json: bool) -> None:
    """Evaluate the monitoring rules (alerts.rules) now; exit 1 when one is firing.

    Sends no alert: the monitoring_rules job (every 4 hours) alerts firing and resolution.
    """
    config = load_config(config_path)
    store = BronzeStore.from_config(config.bronze)
    now = utc_now()
    findings = evaluate_rules(config, gather(MetadataStore(store), store, config), now)
    findings.sort(key=lambda f: (not f.firing, f.rule, f.table or ""))
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(f) for f in findings], indent=2))
    else:
        rows = [
            [f.rule, f.table or "-", "FIRING" if f.firing else "ok", f"{f.value:.4g}",
             f"{f.threshold:g}", f.severity, f.message]
            for f in findings
        ]  # fmt: skip
        console.print(simple_table(f"Monitoring rules at {now:%Y-%m-%d %H:%M} UTC", COLUMNS, rows))
    if any(f.firing for f in findings):
        sys.exit(1)
