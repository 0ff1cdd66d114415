"""The demo's table of each kind: daily campaign totals (partitioned), account tier history
(scd2) and currencies (static), derived deterministically from the seed rows."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from bronze_sync.demo.tables import metadata

DAYS = 14  # daily slices in the source; the first sync loads the newest initial_partitions
TIERS = ["Bronze", "Silver", "Gold", "Platinum"]
HISTORY_ACCOUNTS = 200
CURRENCIES = [
    ("EUR", "Euro", 2),
    ("GBP", "Pound sterling", 2),
    ("USD", "US dollar", 2),
    ("CHF", "Swiss franc", 2),
    ("JPY", "Yen", 0),
    ("SEK", "Swedish krona", 2),
]

campaign_daily = sa.Table(
    "campaign_daily",
    metadata,
    sa.Column("campaign", sa.Text, primary_key=True),
    sa.Column("cobid", sa.Integer, primary_key=True),
    sa.Column("donations", sa.Integer),
    sa.Column("amount", sa.Numeric(19, 4)),
)
account_tier_history = sa.Table(
    "account_tier_history",
    metadata,
    sa.Column("accountid", sa.Text, primary_key=True),
    sa.Column("validfrom", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("iscurrent", sa.Boolean),
    sa.Column("tier", sa.Text),
)
currency = sa.Table(
    "currency",
    metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("decimals", sa.Integer),
)
KIND_TABLES = {t.name: t for t in (campaign_daily, account_tier_history, currency)}


def cobid(day: dt.date) -> int:
    """Return a day as a COBID (YYYYMMDD)."""
    return day.year * 10_000 + day.month * 100 + day.day


def campaign_rows(day: dt.date, seed: int) -> list[dict[str, Any]]:
    """Return the campaign totals of one close-of-business day."""
    rng = random.Random(seed * 1_000_003 + cobid(day))
    campaigns = ["Winter Appeal", "Spring Gala", "Clean Water", "Schools 2030", "Emergency Fund"]
    return [
        {
            "campaign": name,
            "cobid": cobid(day),
            "donations": (n := rng.randrange(5, 60)),
            "amount": Decimal(n * rng.randrange(2_000, 20_000)) / 100,
        }
        for name in campaigns
    ]


def history_rows(accounts: list[str], today: dt.date, seed: int = 11) -> list[dict[str, Any]]:
    """Return 1 to 3 tier versions per account, the newest one current."""
    rng = random.Random(seed)
    rows = []
    for account in accounts[:HISTORY_ACCOUNTS]:
        versions = rng.randrange(1, 4)
        ages = sorted(rng.sample(range(1, 900), versions), reverse=True)
        for i, age in enumerate(ages):
            at = dt.datetime.combine(today, dt.time(9), dt.UTC) - dt.timedelta(days=age)
            rows.append(
                {
                    "accountid": account,
                    "validfrom": at,
                    "iscurrent": i == versions - 1,
                    "tier": TIERS[min(i + rng.randrange(0, 2), len(TIERS) - 1)],
                }
            )
    return rows


def build_kind_tables(conn: sa.Connection, accounts: list[str], today: dt.date) -> dict[str, int]:
    """Fill the kind tables (created with the demo's metadata); return their row counts."""
    days = [today - dt.timedelta(days=d) for d in range(DAYS, 0, -1)]
    campaign = [row for day in days for row in campaign_rows(day, 1)]
    history = history_rows(accounts, today)
    currencies = [{"code": c, "name": n, "decimals": d} for c, n, d in CURRENCIES]
    for table, rows in (
        (campaign_daily, campaign),
        (account_tier_history, history),
        (currency, currencies),
    ):
        conn.execute(table.insert(), rows)
    return {"campaign_daily": len(campaign), "account_tier_history": len(history), "currency": 6}


@dataclass
class KindChanges:
    """What the story did to the kind tables between the two syncs."""

    new_cobid: int
    new_versions: int


def change_kind_tables(conn: sa.Connection, now: dt.datetime, seed: int = 7) -> KindChanges:
    """Close today's books (a new COBID slice) and move some accounts to another tier."""
    conn.execute(campaign_daily.insert(), campaign_rows(now.date(), 1))
    rng = random.Random(seed)
    t = account_tier_history
    current = [r[0] for r in conn.execute(sa.select(t.c.accountid).where(t.c.iscurrent))]
    moved = rng.sample(sorted(current), 20)
    for account in moved:
        conn.execute(
            t.update().where(t.c.accountid == account, t.c.iscurrent).values(iscurrent=False)
        )
        conn.execute(
            t.insert(),
            [{"accountid": account, "validfrom": now, "iscurrent": True, "tier": "Gold"}],
        )
    return KindChanges(new_cobid=cobid(now.date()), new_versions=len(moved))


def latest_per_account(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Return how many current versions each account has."""
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["accountid"]] += 1 if row["iscurrent"] else 0
    return counts
