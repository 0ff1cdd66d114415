"""The demo's report on its partitioned, scd2 and static tables: what the story did to them."""

from __future__ import annotations

from typing import Any

import pyarrow.compute as pc
import sqlalchemy as sa
from rich.console import Console

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli.render import simple_table
from bronze_sync.cli.runner import RunOutcome
from bronze_sync.config import Config
from bronze_sync.demo.kinds import KIND_TABLES, KindChanges


def report_kinds(
    console: Console,
    config: Config,
    store: BronzeStore,
    engine: sa.Engine,
    changes: KindChanges,
    outcome: RunOutcome,
) -> bool:
    """Print one row per kind table, checked against the source; return True when all match."""
    rows, all_ok = [], True
    synced = {t.table: t for t in outcome.tables}
    for table in config.tables:
        if table.name not in KIND_TABLES:
            continue
        delta = store.open(store.table_uri(table.name))
        assert delta is not None
        bronze = delta.to_pyarrow_table()
        with engine.connect() as conn:
            source = [dict(r) for r in conn.execute(sa.select(KIND_TABLES[table.name])).mappings()]
        ok, story = _CHECKS[table.kind](bronze, source, changes, synced.get(table.name))
        all_ok &= ok
        rows.append(
            [
                table.name,
                table.kind,
                bronze.num_rows,
                story,
                "[green]yes[/]" if ok else "[red]NO[/]",
            ]
        )
    console.print(
        simple_table(
            "the other table kinds",
            ["table", "kind", "bronze rows", "what the second sync did", "matches the source"],
            rows,
        )
    )
    return all_ok


Rows = list[dict[str, Any]]


def _partitioned(bronze: Any, source: Rows, changes: KindChanges, run: Any) -> tuple[bool, str]:
    held = sorted(set(bronze.column("cobid").to_pylist()))
    newest = sorted({r["cobid"] for r in source})[-len(held) :]
    ok = held == newest and changes.new_cobid in held and bronze.num_rows == 5 * len(held)
    return ok, f"loaded the new close of business {changes.new_cobid} only ({len(held)} held)"


def _scd2(bronze: Any, source: Rows, changes: KindChanges, run: Any) -> tuple[bool, str]:
    current = bronze.filter(pc.fill_null(bronze.column("iscurrent"), False))
    accounts = current.column("accountid").to_pylist()
    source_current = {(r["accountid"], r["tier"]) for r in source if r["iscurrent"]}
    held_current = {(r["accountid"], r["tier"]) for r in current.to_pylist()}
    ok = len(accounts) == len(set(accounts)) and held_current == source_current
    return ok, f"{changes.new_versions} new versions; their old versions no longer current"


def _static(bronze: Any, source: Rows, changes: KindChanges, run: Any) -> tuple[bool, str]:
    skipped = run is not None and run.figures.get("mode") == "skipped"
    ok = bronze.num_rows == len(source) and skipped
    return ok, "nothing read: the content fingerprint was unchanged (audit: Skipped)"


_CHECKS = {"partitioned": _partitioned, "scd2": _scd2, "static": _static}
