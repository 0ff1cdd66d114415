"""Dataverse tables sync like SQL tables: change tracking, deletes, retention purges."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from bronze_sync.errors import SourceSchemaError
from bronze_sync.metadata.pipeline_config import read_state
from bronze_sync_tests.dataverse import (
    account_row,
    account_table,
    dataverse_config,
    key,
)
from bronze_sync_tests.helpers import years_ago

pytestmark = pytest.mark.slow  # emulator or many syncs per test: see conftest.SLOW_FOLDERS


def rows_by_key(table: pa.Table) -> dict[str, dict]:
    return {r["accountid"]: r for r in table.to_pylist()}


def test_initial_sync_then_changes_arrive_through_the_saved_delta_link(
    emulator, tmp_path, harness_for
):
    emulator.insert("account", [account_row(i) for i in range(25)])
    h = harness_for(dataverse_config(emulator, tmp_path, page_size=7))
    first = h.sync()
    assert (first.mode, first.inserted) == ("initial", 25)
    token = read_state(h.meta, "account")["ChangeToken"]
    assert "$deltatoken=" in token
    bronze = h.bronze()
    assert bronze.schema.field("revenue").type == pa.decimal128(19, 4)
    assert bronze.schema.field("exchangerate").type == pa.decimal128(23, 10)
    assert rows_by_key(bronze)[key(3)]["revenue"] == Decimal("1234570.8901")

    emulator.update("account", key(1), name="renamed", revenue=Decimal("0.0001"))
    emulator.insert("account", [account_row(100)])
    emulator.delete("account", [key(2)])
    scans_before = len(emulator.api_requests("$select=accountid&"))
    second = h.sync()
    assert (second.mode, second.inserted, second.updated, second.deleted) == ("changes", 1, 1, 1)
    assert not second.full_key_scan
    assert len(emulator.api_requests("$select=accountid&")) == scans_before  # no key scan
    rows = rows_by_key(h.bronze())
    assert rows[key(1)]["name"] == "renamed" and rows[key(1)]["revenue"] == Decimal("0.0001")
    assert rows[key(2)]["IsDeleted"] and not rows[key(2)]["IsPurged"]
    assert rows[key(100)]["SyncOperation"] == "INSERT"
    assert read_state(h.meta, "account")["ChangeToken"] != token

    third = h.sync()
    assert (third.mode, third.changed_rows, third.committed) == ("changes", 0, False)


def test_rows_moved_to_long_term_retention_become_purges_whatever_their_age(
    emulator, tmp_path, harness_for
):
    emulator.insert("account", [account_row(i, created=years_ago(0.5)) for i in range(10)])
    h = harness_for(dataverse_config(emulator, tmp_path))
    h.sync()
    emulator.retain("account", [key(0), key(1)])
    h.sync()  # bronze sees msft_datastate = 1
    emulator.remove_retained("account")
    emulator.delete("account", [key(2)])
    result = h.sync()
    assert (result.purged, result.deleted) == (2, 1)
    rows = rows_by_key(h.bronze())
    assert rows[key(0)]["IsPurged"] and rows[key(0)]["SyncOperation"] == "PURGE"
    assert rows[key(2)]["IsDeleted"]


def test_an_expired_change_token_falls_back_to_a_full_read_with_key_comparison(
    emulator, tmp_path, harness_for, caplog
):
    emulator.insert("account", [account_row(i) for i in range(12)])
    h = harness_for(dataverse_config(emulator, tmp_path, page_size=5))
    h.sync()
    emulator.delete("account", [key(4)])
    emulator.update("account", key(5), name="changed")
    emulator.expire_change_tokens("account")
    result = h.sync()
    assert result.mode == "full" and result.full_key_scan
    assert (result.deleted, result.updated, result.source_rows) == (1, 1, 11)
    assert "0x80044352" in caplog.text and "falling back" in caplog.text
    emulator.delete("account", [key(6)])
    assert h.sync().mode == "changes"  # the new token works
    assert rows_by_key(h.bronze())[key(6)]["IsDeleted"]


def test_with_change_tracking_off_the_sync_extracts_by_modifiedon_and_scans_keys(
    emulator, tmp_path, harness_for
):
    emulator.insert("account", [account_row(i) for i in range(8)])
    h = harness_for(dataverse_config(emulator, tmp_path, change_tracking="off"))
    h.sync()
    emulator.delete("account", [key(0)])
    emulator.update("account", key(1), name="x")
    result = h.sync()
    assert result.mode == "incremental" and result.full_key_scan
    assert (result.deleted, result.updated) == (1, 1)
    assert read_state(h.meta, "account")["ChangeToken"] is None


def test_a_reappearing_row_is_undeleted_through_change_tracking(emulator, tmp_path, harness_for):
    emulator.insert("account", [account_row(i) for i in range(5)])
    h = harness_for(dataverse_config(emulator, tmp_path, tables=[account_table()]))
    h.sync()
    emulator.delete("account", [key(3)])
    h.sync()
    emulator.insert("account", [account_row(3, name="back")])
    result = h.sync()
    assert result.undeleted == 1
    row = rows_by_key(h.bronze())[key(3)]
    assert (row["IsDeleted"], row["SyncOperation"], row["name"]) == (False, "UNDELETE", "back")


def test_a_new_column_in_the_entity_makes_a_full_read_and_lands_in_bronze(
    emulator, tmp_path, harness_for
):
    from bronze_sync.testing.dataverse.model import Attribute

    emulator.insert("account", [account_row(i) for i in range(4)])
    h = harness_for(dataverse_config(emulator, tmp_path))
    h.sync()
    emulator.store.entities["account"].attributes.append(Attribute("websiteurl", "String"))
    emulator.update("account", key(1), websiteurl="https://example.org")
    h.source._entities.clear()  # a new run reads the metadata again
    result = h.sync()
    assert result.mode == "full" and result.columns_added == ["websiteurl"]
    assert rows_by_key(h.bronze())[key(1)]["websiteurl"] == "https://example.org"
    assert h.sync().mode == "changes"


def test_columns_include_reads_only_those_plus_keys_and_the_modified_column(
    emulator, tmp_path, harness_for
):
    emulator.insert("account", [account_row(i) for i in range(5)])
    table = account_table(columns={"include": ["name", "parentaccountid"]})
    h = harness_for(dataverse_config(emulator, tmp_path, [table]))
    h.sync()
    data_columns = [c for c in h.bronze().column_names if c[0].islower() or c.startswith("_")]
    assert data_columns == [
        "accountid",
        "createdon",
        "modifiedon",
        "name",
        "_parentaccountid_value",
        "parentaccountid_entitytype",
    ]
    selects = [r.path for r in emulator.api_requests("accounts?")]
    assert selects and all("revenue" not in path for path in selects)


OWNER_TYPE = "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"


def test_a_lookup_lands_with_the_logical_name_of_the_entity_each_row_points_to(
    emulator, tmp_path, harness_for
):
    user, team = str(key(900)), str(key(901))
    emulator.insert(
        "account",
        [
            account_row(0, _ownerid_value=user),
            account_row(1, _ownerid_value=team, **{OWNER_TYPE: "team"}),
            account_row(2, _parentaccountid_value=key(0)),
        ],
    )
    h = harness_for(dataverse_config(emulator, tmp_path))
    h.sync()
    rows = rows_by_key(h.bronze())
    assert (rows[key(0)]["_ownerid_value"], rows[key(0)]["ownerid_entitytype"]) == (
        user,
        "systemuser",
    )
    assert rows[key(1)]["ownerid_entitytype"] == "team"
    assert rows[key(2)]["parentaccountid_entitytype"] == "account"
    assert rows[key(0)]["parentaccountid_entitytype"] is None  # no lookup value, no name
    prefers = {r.prefer for r in emulator.api_requests("accounts?")}
    assert all("lookuplogicalname" in p and "FormattedValue" not in p for p in prefers)

    emulator.update("account", key(0), _ownerid_value=team, **{OWNER_TYPE: "team"})
    assert h.sync().mode == "changes"
    assert rows_by_key(h.bronze())[key(0)]["ownerid_entitytype"] == "team"


def test_a_lookup_type_column_added_to_an_existing_table_is_filled_for_every_row(
    emulator, tmp_path, harness_for
):
    emulator.insert("account", [account_row(i, _ownerid_value=key(900)) for i in range(4)])
    narrow = account_table(columns={"exclude": ["ownerid_entitytype"]})
    harness_for(dataverse_config(emulator, tmp_path, [narrow])).sync()
    h = harness_for(dataverse_config(emulator, tmp_path))
    result = h.sync()
    assert result.columns_added == ["ownerid_entitytype"]
    assert set(h.bronze().column("ownerid_entitytype").to_pylist()) == {"systemuser"}


def test_excluding_a_lookup_excludes_its_type_column(emulator, tmp_path, harness_for):
    emulator.insert("account", [account_row(0)])
    narrow = account_table(columns={"exclude": ["ownerid"]})
    h = harness_for(dataverse_config(emulator, tmp_path, [narrow]))
    h.sync()
    assert not {"_ownerid_value", "ownerid_entitytype"} & set(h.bronze().column_names)


def test_columns_exclude_drops_them_and_a_later_exclusion_keeps_the_history(
    emulator, tmp_path, harness_for
):
    emulator.insert("account", [account_row(i) for i in range(5)])
    h = harness_for(dataverse_config(emulator, tmp_path))
    h.sync()
    assert "revenue" in h.bronze().column_names
    narrow = account_table(columns={"exclude": ["revenue", "creditlimit"]})
    h2 = harness_for(dataverse_config(emulator, tmp_path, [narrow]))
    emulator.update("account", key(1), name="renamed")
    h2.sync()
    rows = rows_by_key(h2.bronze())
    assert rows[key(1)]["name"] == "renamed"
    assert rows[key(3)]["revenue"] == Decimal("1234570.8901")  # bronze keeps what it had


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            {"include": ["name", "nosuchcolumn"]},
            "columns.include: 'nosuchcolumn' is not a readable",
        ),
        ({"exclude": ["modifiedon"]}, "columns.exclude: 'modifiedon' is the table's primary key"),
    ],
)
def test_a_bad_column_selection_fails_naming_the_setting_and_writes_nothing(
    emulator, tmp_path, harness_for, columns, message
):
    emulator.insert("account", [account_row(0)])
    h = harness_for(dataverse_config(emulator, tmp_path, [account_table(columns=columns)]))
    with pytest.raises(SourceSchemaError, match=message):
        h.sync()
    assert h.store.open(h.store.table_uri("account")) is None


def test_multi_select_lands_as_its_string_and_an_image_column_is_noted_not_copied(
    emulator, tmp_path, harness_for
):
    emulator.insert("account", [account_row(0, new_interests="1,3"), account_row(1)])
    h = harness_for(dataverse_config(emulator, tmp_path))
    result = h.sync()
    bronze = h.bronze()
    assert bronze.schema.field("new_interests").type == pa.string()
    assert rows_by_key(bronze)[key(0)]["new_interests"] == "1,3"
    assert "entityimage" not in bronze.column_names
    assert result.metadata()["columns_not_copied"] == {
        "entityimage": "ImageType has no bronze column type"
    }
