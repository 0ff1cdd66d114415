"""The demo's story between two syncs: updates, inserts, recent deletes and an age purge."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from bronze_sync.demo.tables import DEMO_TABLES, PRIMARY_KEYS

PURGE_YEARS = 5
CHANGES = {
    "account": {"update": 60, "insert": 25, "delete": 8},
    "donation": {"update": 40, "insert": 60, "delete": 15},
    "activitypointer": {"update": 100, "insert": 120, "delete": 30},
}


@dataclass
class TableChanges:
    """What the scenario did to one source table."""

    updated: int = 0
    inserted: int = 0
    deleted: int = 0
    purged: int = 0
    deleted_keys: list[str] = field(default_factory=list)


def purge_cutoff(today: dt.date) -> dt.datetime:
    """Return the purge date: midnight UTC, PURGE_YEARS years before today."""
    return dt.datetime(today.year - PURGE_YEARS, today.month, min(today.day, 28), tzinfo=dt.UTC)


def change_source(engine: sa.Engine, now: dt.datetime, seed: int = 7) -> dict[str, TableChanges]:
    """Apply the demo's changes to the source; return what changed per table."""
    rng = random.Random(seed)
    cutoff = purge_cutoff(now.date())
    out: dict[str, TableChanges] = {}
    with engine.begin() as conn:
        for name, plan in CHANGES.items():
            table, key = DEMO_TABLES[name], PRIMARY_KEYS[name]
            recent = [
                r[0]
                for r in conn.execute(sa.select(table.c[key]).where(table.c.createdon >= cutoff))
            ]
            rng.shuffle(recent)
            chosen_updates = recent[: plan["update"]]
            chosen_deletes = recent[plan["update"] : plan["update"] + plan["delete"]]
            changes = TableChanges(deleted_keys=chosen_deletes)
            for ident in chosen_updates:
                conn.execute(
                    table.update().where(table.c[key] == ident).values(_update(name, rng, now))
                )
            changes.updated = len(chosen_updates)
            conn.execute(table.delete().where(table.c[key].in_(chosen_deletes)))
            changes.deleted = len(chosen_deletes)
            template = dict(conn.execute(sa.select(table).limit(1)).mappings().one())
            new_rows = [_new_row(name, template, rng, now) for _ in range(plan["insert"])]
            conn.execute(table.insert(), new_rows)
            changes.inserted = len(new_rows)
            purged = conn.execute(table.delete().where(table.c.createdon < cutoff))
            changes.purged = purged.rowcount
            out[name] = changes
    return out


def _update(name: str, rng: random.Random, now: dt.datetime) -> dict[str, Any]:
    if name == "account":
        revenue = Decimal(rng.randrange(0, 5_000_000_0000)) / 10000
        return {"revenue": revenue, "statecode": 1, "statuscode": 2, "modifiedon": now}
    if name == "donation":
        return {
            "statuscode": 2,
            "amount": Decimal(rng.randrange(500, 90_000)) / 100,
            "modifiedon": now,
        }
    return {"statecode": 1, "statuscode": 2, "actualdurationminutes": 30, "modifiedon": now}


def _new_row(
    name: str, template: dict[str, Any], rng: random.Random, now: dt.datetime
) -> dict[str, Any]:
    row = dict(template)
    row[PRIMARY_KEYS[name]] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    row["createdon"] = now - dt.timedelta(minutes=rng.randrange(1, 600))
    row["modifiedon"] = now
    if name == "donation":
        row["donationdate"] = now.date()
    return row
