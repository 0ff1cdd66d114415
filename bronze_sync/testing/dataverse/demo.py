"""The demo entities (account, donation, activitypointer), shaped like real Dataverse tables."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from bronze_sync.testing.dataverse.model import Attribute, Entity, Option
from bronze_sync.testing.dataverse.rows_json import LOOKUP_NAME

if TYPE_CHECKING:  # the server (TLS, HTTP) is only needed by whoever runs one
    from bronze_sync.testing.dataverse.server import DataverseEmulator

A = Attribute


def _choices(*labels: str, start: int = 1) -> tuple[Option, ...]:
    return tuple(Option(start + i, label) for i, label in enumerate(labels))


ACTIVE_STATES = (Option(0, "Active"), Option(1, "Inactive"))
ACTIVE_STATUSES = (Option(1, "Active", state=0), Option(2, "Inactive", state=1))
# Dataverse's own account industry codes.
INDUSTRIES = (
    "Accounting", "Agriculture and Non-petrol Natural Resource Extraction",
    "Broadcasting Printing and Publishing", "Brokers", "Building Supply Retail",
    "Business Services", "Consulting", "Consumer Services",
    "Design, Direction and Creative Management", "Distributors, Dispatchers and Processors",
    "Doctor's Offices and Clinics", "Durable Manufacturing", "Eating and Drinking Places",
    "Entertainment Retail", "Equipment Rental and Leasing", "Financial",
    "Food and Tobacco Processing", "Inbound Capital Intensive Processing",
    "Inbound Repair and Services", "Insurance", "Legal Services",
    "Non-Durable Merchandise Retail", "Outbound Consumer Service",
    "Petrochemical Extraction and Distribution", "Service Retail", "SIG Affiliations",
    "Social Services", "Special Outbound Trade Contractors", "Specialty Realty",
    "Transportation", "Utility Creation and Distribution", "Vehicle Retail", "Wholesale",
)  # fmt: skip
ACTIVITY_STATES = _choices("Open", "Completed", "Canceled", "Scheduled", start=0)
ACTIVITY_STATUSES = (
    Option(1, "Open", state=0),
    Option(2, "Completed", state=1),
    Option(3, "Canceled", state=2),
    Option(4, "Scheduled", state=3),
)
DATA_STATES = (Option(0, "Active"), Option(1, "Retained"))  # long-term retention


def _common(
    primary: str,
    states: tuple[Option, ...] = ACTIVE_STATES,
    statuses: tuple[Option, ...] = ACTIVE_STATUSES,
) -> list[Attribute]:
    return [
        A(primary, "Uniqueidentifier"),
        A("statecode", "State", options=states),
        A("statuscode", "Status", options=statuses),
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
            A("industrycode", "Picklist", options=_choices(*INDUSTRIES)),
            A("telephone1", "String"),
            A("emailaddress1", "String"),
            A("address1_city", "String"),
            A("address1_country", "String"),
            A("parentaccountid", "Lookup", targets=("account",)),
            A("parentaccountidname", "String", attribute_of="parentaccountid"),
            A("ownerid", "Owner", targets=("systemuser", "team")),
            A("versionnumber", "BigInt"),
            A("msft_datastate", "Picklist", options=DATA_STATES),
            A(
                "new_interests",
                "Virtual",
                type_name="MultiSelectPicklistType",
                options=_choices("Sport", "Music", "Travel", "Food"),
            ),
            A("entityimage", "Virtual", type_name="ImageType"),  # never copied
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
            A(
                "paymentmethod",
                "Picklist",
                options=_choices("Cash", "Card", "Direct Debit", "Bank Transfer"),
                option_set="new_paymentmethod",
            ),
        ],
    )


def activity_entity() -> Entity:
    """Return an empty `activitypointer` entity."""
    return Entity(
        "activitypointer",
        "activitypointers",
        "activityid",
        [
            *_common("activityid", ACTIVITY_STATES, ACTIVITY_STATUSES),
            A("subject", "String"),
            A("activitytypecode", "EntityName"),
            A("regardingobjectid", "Lookup", targets=("account",)),
            A("scheduledstart", "DateTime"),
            A("scheduledend", "DateTime"),
            A("actualdurationminutes", "Integer"),
            A("prioritycode", "Picklist", options=_choices("Low", "Normal", "High", start=0)),
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
        if name == "account":
            _owned_by_teams(rows)
        emulator.insert(name, rows)
        counts[name] = len(entity.rows)
    return counts


def _owned_by_teams(rows: list[dict[str, Any]]) -> None:
    """Make about a quarter of the accounts team-owned, as the polymorphic owner allows."""
    for row in rows:
        owner = row.get("_ownerid_value")
        if owner and str(owner)[0] in "0123":
            row[f"_ownerid_value{LOOKUP_NAME}"] = "team"
