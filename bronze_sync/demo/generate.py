"""Generate the demo seed CSVs (deterministic); `python -m bronze_sync.demo.generate DIR`."""

from __future__ import annotations

import csv
import datetime as dt
import random
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from bronze_sync.demo.tables import DEMO_TABLES

REFERENCE = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
SPAN_DAYS = 7 * 365
ROWS = {"account": 2000, "donation": 4000, "activitypointer": 6000}
_WORDS = [
    "North",
    "Bright",
    "Green",
    "Harbour",
    "Oak",
    "Summit",
    "River",
    "Lantern",
    "Cedar",
    "Blue",
]
_KINDS = ["Trust", "Foundation", "Partners", "Group", "Society", "Ltd", "Charity", "Works"]
_CITIES = [("Leeds", "UK"), ("Utrecht", "NL"), ("Lyon", "FR"), ("Cork", "IE"), ("Ghent", "BE")]
_CAMPAIGNS = ["Winter Appeal", "Spring Gala", "Clean Water", "Schools 2030", "Emergency Fund"]
_SUBJECTS = ["Follow-up call", "Thank-you email", "Site visit", "Quarterly review", "Renewal"]
_FACTORS = [Decimal("0.25"), Decimal("1.25"), Decimal("0"), Decimal("0.123456789012345")]


def _uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _created(rng: random.Random) -> dt.datetime:
    # Square root skews towards recent years, as CRM activity grows over time.
    age_days = SPAN_DAYS * (1 - rng.random() ** 0.5 * 0.999)
    return REFERENCE - dt.timedelta(days=age_days, seconds=rng.randrange(86400))


def _modified(rng: random.Random, created: dt.datetime) -> dt.datetime:
    room = (REFERENCE - created).total_seconds()
    return created + dt.timedelta(seconds=rng.random() * min(room, 400 * 86400))


def accounts(rng: random.Random) -> Iterator[dict[str, Any]]:
    """Yield demo account rows."""
    ids: list[str] = []
    for n in range(ROWS["account"]):
        created = _created(rng)
        city, country = rng.choice(_CITIES)
        ident = _uid(rng)
        parent = rng.choice(ids) if ids and rng.random() < 0.15 else None
        ids.append(ident)
        yield {
            "accountid": ident,
            "name": f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} {rng.choice(_KINDS)}",
            "accountnumber": f"ACC-{n + 1:06d}",
            "revenue": Decimal(rng.randrange(0, 5_000_000_0000)) / 10000,
            "creditlimit": None if rng.random() < 0.3 else Decimal(rng.randrange(0, 100_000)) * 10,
            "exchangerate": rng.choice([Decimal("1.0000000000"), Decimal("1.1734000000")]),
            "numberofemployees": rng.randrange(1, 5000),
            "industrycode": rng.randrange(1, 34),
            "telephone1": f"+44 113 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
            "emailaddress1": f"info{n + 1}@example.org",
            "address1_city": city,
            "address1_country": country,
            "_parentaccountid_value": parent,
            "_ownerid_value": _uid(rng),
            "statecode": 0 if rng.random() < 0.85 else 1,
            "statuscode": 1,
            "versionnumber": 1000 + n,
            "createdon": created,
            "modifiedon": _modified(rng, created),
            "msft_datastate": 0,
        }


def donations(rng: random.Random, account_ids: list[str]) -> Iterator[dict[str, Any]]:
    """Yield demo donation rows."""
    for _ in range(ROWS["donation"]):
        created = _created(rng)
        yield {
            "donationid": _uid(rng),
            "_accountid_value": rng.choice(account_ids),
            "amount": Decimal(rng.randrange(500, 500_000)) / 100,
            "giftaidfactor": rng.choice(_FACTORS),
            "donationdate": created.date(),
            "campaign": rng.choice(_CAMPAIGNS),
            "paymentmethod": rng.randrange(1, 5),
            "statecode": 0,
            "statuscode": 1,
            "createdon": created,
            "modifiedon": _modified(rng, created),
        }


def activities(rng: random.Random, account_ids: list[str]) -> Iterator[dict[str, Any]]:
    """Yield demo activitypointer rows."""
    for _ in range(ROWS["activitypointer"]):
        created = _created(rng)
        start = created + dt.timedelta(days=rng.randrange(0, 30)) if rng.random() < 0.7 else None
        yield {
            "activityid": _uid(rng),
            "subject": rng.choice(_SUBJECTS),
            "activitytypecode": rng.choice(["email", "phonecall", "task", "appointment"]),
            "_regardingobjectid_value": rng.choice(account_ids),
            "scheduledstart": start,
            "scheduledend": start + dt.timedelta(minutes=rng.choice([15, 30, 60]))
            if start
            else None,
            "actualdurationminutes": rng.choice([0, 15, 30, 45, 60]),
            "prioritycode": rng.randrange(0, 3),
            "statecode": rng.choice([0, 1, 1]),
            "statuscode": rng.choice([1, 2]),
            "createdon": created,
            "modifiedon": _modified(rng, created),
        }


def format_value(value: Any) -> str:
    """Return the CSV text of a value (empty for null, ISO 8601 with Z for timestamps)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def write_seeds(folder: Path, seed: int = 42) -> dict[str, int]:
    """Write account.csv, donation.csv and activitypointer.csv into `folder`."""
    rng = random.Random(seed)
    account_rows = list(accounts(rng))
    ids = [r["accountid"] for r in account_rows]
    data = {
        "account": account_rows,
        "donation": list(donations(rng, ids)),
        "activitypointer": list(activities(rng, ids)),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in data.items():
        columns = [c.name for c in DEMO_TABLES[name].columns]
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([format_value(row[c]) for c in columns])
    return {name: len(rows) for name, rows in data.items()}


if __name__ == "__main__":
    print(write_seeds(Path(sys.argv[1] if len(sys.argv) > 1 else "seeds")))
