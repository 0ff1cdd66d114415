"""Find the seed CSVs and build the demo SQLite source from them."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from bronze_sync.config.loader import seeds_dir
from bronze_sync.demo.generate import REFERENCE
from bronze_sync.demo.kinds import build_kind_tables
from bronze_sync.demo.tables import DEMO_TABLES, metadata


def read_seed(name: str, shift: dt.timedelta) -> list[dict[str, Any]]:
    """Return the rows of seed `name`, typed, with timestamps moved forward by `shift`."""
    table = DEMO_TABLES[name]
    with open(seeds_dir() / f"{name}.csv", newline="", encoding="utf-8") as handle:
        raw_rows = list(csv.DictReader(handle))
    return [{c.name: _parse(row[c.name], c.type, shift) for c in table.columns} for row in raw_rows]


def _parse(text: str, sql_type: sa.types.TypeEngine[Any], shift: dt.timedelta) -> Any:
    if text == "":
        return None
    if isinstance(sql_type, sa.DateTime):
        return dt.datetime.fromisoformat(text) + shift
    if isinstance(sql_type, sa.Date):
        return dt.date.fromisoformat(text) + dt.timedelta(days=shift.days)
    if isinstance(sql_type, sa.Numeric):
        return Decimal(text)
    if isinstance(sql_type, sa.Integer):
        return int(text)
    return text


def seed_shift(today: dt.date) -> dt.timedelta:
    """Return how far to move seed timestamps so the newest rows are about a day old."""
    return dt.timedelta(days=(today - REFERENCE.date()).days)


def build_source(engine: sa.Engine, today: dt.date) -> dict[str, int]:
    """Create the demo tables in `engine` from the seeds (replacing any) and return row counts."""
    shift = seed_shift(today)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    counts = {}
    with engine.begin() as conn:
        for name, table in DEMO_TABLES.items():
            rows = read_seed(name, shift)
            conn.execute(table.insert(), rows)
            counts[name] = len(rows)
        accounts = [r[0] for r in conn.execute(sa.select(DEMO_TABLES["account"].c.accountid))]
        counts.update(build_kind_tables(conn, sorted(accounts), today))
    return counts
