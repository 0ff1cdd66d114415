"""Dataverse syncs keep Link to Fabric's choice and lookup metadata tables beside bronze."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from bronze_sync.errors import SourceError
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync.sources.dataverse_choices import (
    GLOBAL_OPTIONSET,
    OPTIONSET,
    STATE,
    STATUS,
    TARGET,
)
from bronze_sync.testing.dataverse.demo import donation_entity
from bronze_sync.testing.dataverse.model import Option
from bronze_sync_tests.dataverse import (
    account_row,
    account_table,
    dataverse_config,
)

pytestmark = pytest.mark.slow  # emulator syncs


def donation_table() -> dict:
    return {
        "name": "donation",
        "source": "donation",
        "primary_key": "donationid",
        "created_column": "createdon",
        "modified_column": "modifiedon",
    }


def labels(h, name: str, entity: str, column: str) -> dict:
    rows = [r for r in h.meta.rows(name) if r["EntityName"] == entity]
    return {r[column]: r["LocalizedLabel"] for r in rows}


@pytest.fixture
def synced(emulator, tmp_path, harness_for):
    emulator.add_entity(donation_entity())
    emulator.insert("account", [account_row(i) for i in range(3)])
    now = dt.datetime.now(dt.UTC)
    donation = {"donationid": "00000000-0000-0000-0000-0000000000d1", "paymentmethod": 2}
    emulator.insert("donation", [{**donation, "createdon": now, "modifiedon": now}])
    h = harness_for(dataverse_config(emulator, tmp_path, [account_table(), donation_table()]))
    h.sync("account")
    h.sync("donation")
    return h


def test_first_syncs_write_labels_states_statuses_and_lookup_targets(synced):
    h = synced
    industries = {
        r["Option"]: r["LocalizedLabel"]
        for r in h.meta.rows(OPTIONSET)
        if (r["EntityName"], r["OptionSetName"]) == ("account", "industrycode")
    }
    assert industries[1] == "Accounting" and industries[16] == "Financial" and len(industries) == 33
    assert labels(h, STATE, "account", "State") == {0: "Active", 1: "Inactive"}
    statuses = {
        (r["State"], r["Status"]) for r in h.meta.rows(STATUS) if r["EntityName"] == "account"
    }
    assert statuses == {(0, 1), (1, 2)}
    assert all(
        r["IsUserLocalizedLabel"] and r["LocalizedLabelLanguageCode"] == 1033
        for r in h.meta.rows(STATE)
    )
    payment = [r for r in h.meta.rows(GLOBAL_OPTIONSET) if r["EntityName"] == "donation"]
    assert {r["Option"]: r["LocalizedLabel"] for r in payment}[3] == "Direct Debit"
    assert {r["GlobalOptionSetName"] for r in payment} == {"new_paymentmethod"}
    targets = {
        (r["EntityName"], r["AttributeName"], r["ReferencedEntity"], r["ReferencedAttribute"])
        for r in h.meta.rows(TARGET)
    }
    assert ("account", "parentaccountid", "account", "accountid") in targets
    assert ("donation", "accountid", "account", "accountid") in targets
    assert ("account", "ownerid", "systemuser", None) in targets  # not served here


def test_unchanged_definitions_write_nothing_and_a_relabel_rewrites_only_that_entity(
    synced, emulator
):
    h = synced
    versions = {name: h.meta.version(name) for name in (OPTIONSET, STATE, TARGET)}
    donation_rows = [r for r in h.meta.rows(GLOBAL_OPTIONSET) if r["EntityName"] == "donation"]
    h.sync("account")
    assert {name: h.meta.version(name) for name in versions} == versions

    entity = emulator.store.entities["account"]
    index = next(i for i, a in enumerate(entity.attributes) if a.logical_name == "industrycode")
    relabelled = (Option(1, "Accountancy"), *entity.attributes[index].options[1:])
    entity.attributes[index] = dataclasses.replace(entity.attributes[index], options=relabelled)
    h.sync("account")

    assert h.meta.version(OPTIONSET) == versions[OPTIONSET] + 1
    assert h.meta.version(STATE) == versions[STATE]  # only what changed is rewritten
    industries = {
        r["Option"]: r["LocalizedLabel"]
        for r in h.meta.rows(OPTIONSET)
        if (r["EntityName"], r["OptionSetName"]) == ("account", "industrycode")
    }
    assert industries[1] == "Accountancy" and len(industries) == 33
    assert [
        r for r in h.meta.rows(GLOBAL_OPTIONSET) if r["EntityName"] == "donation"
    ] == donation_rows
    keys = [(r["EntityName"], r["OptionSetName"], r["Option"]) for r in h.meta.rows(OPTIONSET)]
    assert len(keys) == len(set(keys))  # no duplicate after the rewrite


def test_refresh_is_audited_and_a_failed_one_is_a_warning_not_a_failed_sync(synced, emulator):
    h = synced
    audit = [r for r in h.meta.rows(SYNC_AUDIT_LOG) if r["Operation"] == "ReferenceTables"]
    assert {(r["TableName"], r["Status"]) for r in audit} == {
        ("account", "Success"),
        ("donation", "Success"),
    }
    notes = {r["TableName"]: r["Notes"] for r in audit}
    assert "metadata/OptionsetMetadata" in notes["account"]
    assert "metadata/GlobalOptionsetMetadata" in notes["donation"]

    def unavailable(table):
        raise SourceError("EntityDefinitions answered 503 too often", table=table.name)

    h.source.reference_tables = unavailable
    emulator.insert("account", [account_row(7)])
    result = h.sync("account")
    assert result.inserted == 1  # the data sync stands
    warned = [
        r
        for r in h.meta.rows(SYNC_AUDIT_LOG)
        if r["Operation"] == "ReferenceTables" and r["Status"] == "Warning"
    ]
    assert [r["TableName"] for r in warned] == ["account"]
    assert "503" in warned[0]["ErrorMessage"]
