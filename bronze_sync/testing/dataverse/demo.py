"""The demo entities (account, donation, activitypointer), shaped like real Dataverse tables."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from bronze_sync.testing.dataverse.model import Attribute, Entity

if TYPE_CHECKING:  # the server (TLS, HTTP) is only needed by whoever runs one
    from bronze_sync.testing.dataverse.server import DataverseEmulator

A = Attribute


def _common(primary: str) -> list[Attribute]:
    return [
        A(primary, "Uniqueidentifier"),
        A("statecode", "State"),
        A("statuscode", "Status"),
        A("createdon", "DateTime"),
        A("modifiedon", "DateTime"),
    ]


def account_entity() -> Entity:
    """Return an empty `account` entity."""
    return Entity(
        "account",
        "accounts",
        "accountid",
        [
            *_common("accountid"),
            A("name", "String"),
            A("accountnumber", "String"),
            A("revenue", "Money", precision=4),
            A("creditlimit", "Money", precision=4),
            A("exchangerate", "Decimal", precision=10),
            A("numberofemployees", "Integer"),
            A("industrycode", "Picklist"),
            A("telephone1", "String"),
            A("emailaddress1", "String"),
            A("address1_city", "String"),
            A("address1_country", "String"),
            A("parentaccountid", "Lookup", targets=("account",)),
            A("parentaccountidname", "String", attribute_of="parentaccountid"),
            A("ownerid", "Owner", targets=("systemuser", "team")),
            A("versionnumber", "BigInt"),
            A("msft_datastate", "Picklist"),
        ],
    )


def donation_entity() -> Entity:
    """Return an empty `donation` entity (a custom table)."""
    return Entity(
        "donation",
        "donations",
        "donationid",
        [
            *_common("donationid"),
            A("accountid", "Lookup", targets=("account",)),
            A("amount", "Money", precision=4),
            A("giftaidfactor", "Decimal", precision=18),
            A("donationdate", "DateTime", behavior="DateOnly"),
            A("campaign", "String"),
            A("paymentmethod", "Picklist"),
        ],
    )


def activity_entity() -> Entity:
    """Return an empty `activitypointer` entity."""
    return Entity(
        "activitypointer",
        "activitypointers",
        "activityid",
        [
            *_common("activityid"),
            A("subject", "String"),
            A("activitytypecode", "EntityName"),
            A("regardingobjectid", "Lookup", targets=("account",)),
            A("scheduledstart", "DateTime"),
            A("scheduledend", "DateTime"),
            A("actualdurationminutes", "Integer"),
            A("prioritycode", "Picklist"),
        ],
    )


DEMO_ENTITIES = {
    "account": account_entity,
    "donation": donation_entity,
    "activitypointer": activity_entity,
}


def load_demo(emulator: DataverseEmulator, today: dt.date | None = None) -> dict[str, int]:
    """Serve the demo entities filled from the seed CSVs; return row counts."""
    from bronze_sync.demo.seeds import read_seed, seed_shift

    shift = seed_shift(today or dt.datetime.now(dt.UTC).date())
    counts = {}
    for name, build in DEMO_ENTITIES.items():
        entity = emulator.add_entity(build())
        rows = read_seed(name, shift)
        emulator.insert(name, rows)
        counts[name] = len(entity.rows)
    return counts
