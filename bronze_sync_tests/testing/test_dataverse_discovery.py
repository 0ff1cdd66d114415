"""Discovery as Dataverse serves it: service document, $metadata and EntityDefinitions."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import requests

from bronze_sync.testing.dataverse.demo import donation_entity
from bronze_sync_tests.dataverse import account_row, key, signed_in_session

API = "/api/data/v9.2"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


@pytest.fixture
def api(emulator):
    session = signed_in_session(emulator)
    base = emulator.environment_url + API

    class Api:
        def __call__(self, path: str, **params: str) -> requests.Response:
            return session.get(f"{base}/{path}", params=params)

        def get_prefer(self, path: str, prefer: str, **params: str) -> requests.Response:
            return session.get(f"{base}/{path}", params=params, headers={"Prefer": prefer})

        def post(
            self, path: str, body: str, boundary: str = "", content_type: str = ""
        ) -> requests.Response:
            kind = content_type or f"multipart/mixed; boundary={boundary}"
            return session.post(f"{base}/{path}", data=body, headers={"Content-Type": kind})

    return Api()


def test_service_document_lists_every_entity_set_and_entity_definitions(api, emulator):
    answer = api("")
    assert answer.status_code == 200
    body = answer.json()
    names = {s["name"] for s in body["value"]}
    sets = {e.entity_set for e in emulator.store.entities.values()}
    assert sets and sets | {"EntityDefinitions"} == names
    assert body["@odata.context"].endswith(f"{API}/$metadata")


def test_metadata_is_csdl_with_each_entity_type_key_and_typed_properties(api, emulator):
    answer = api("$metadata")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/xml"
    schema = ET.fromstring(answer.content).find(f".//{EDM}Schema")
    types = {t.get("Name"): t for t in schema.iter(f"{EDM}EntityType")}
    account = emulator.store.entities["account"]
    declared = types["account"]
    assert declared.find(f"{EDM}Key/{EDM}PropertyRef").get("Name") == account.primary_id
    properties = {p.get("Name"): p.get("Type") for p in declared.iter(f"{EDM}Property")}
    assert set(properties) == set(account.columns())
    assert properties[account.primary_id] == "Edm.Guid"
    assert properties["modifiedon"] == "Edm.DateTimeOffset"
    sets = {s.get("Name") for s in schema.iter(f"{EDM}EntitySet")}
    assert account.entity_set in sets and "EntityDefinitions" in sets


def test_entity_definitions_collection_answers_select_filter_and_expand(api, emulator):
    answer = api(
        "EntityDefinitions",
        **{
            "$select": "LogicalName,EntitySetName",
            "$filter": "LogicalName eq 'account' or LogicalName eq 'contact'",
            "$expand": "Attributes($select=LogicalName,AttributeType)",
        },
    )
    assert answer.status_code == 200, answer.text
    values = answer.json()["value"]
    expected = {"account", "contact"} & set(emulator.store.entities)
    assert {v["LogicalName"] for v in values} == expected
    for value in values:
        assert set(value) == {"MetadataId", "LogicalName", "EntitySetName", "Attributes"}
        entity = emulator.store.entities[value["LogicalName"]]
        attributes = {a["LogicalName"]: a for a in value["Attributes"]}
        assert set(attributes) == {a.logical_name for a in entity.attributes}
        assert all(
            set(a) - {"@odata.type"} == {"LogicalName", "AttributeType"}
            for a in attributes.values()
        )


def test_entity_definition_by_key_or_metadata_id_and_its_attributes_path(api, emulator):
    account = emulator.store.entities["account"]
    by_name = api("EntityDefinitions(LogicalName='account')", **{"$select": "LogicalName"})
    by_id = api(f"EntityDefinitions({account.metadata_id})", **{"$select": "LogicalName"})
    assert by_name.status_code == by_id.status_code == 200
    assert by_name.json()["LogicalName"] == by_id.json()["LogicalName"] == "account"
    attributes = api(f"EntityDefinitions({account.metadata_id})/Attributes").json()["value"]
    primary = [a for a in attributes if a["IsPrimaryId"]]
    assert [a["LogicalName"] for a in primary] == [account.primary_id]


@pytest.mark.parametrize(
    ("path", "params", "status", "named"),
    [
        ("EntityDefinitions", {"$select": "LogicalName,Nonsense"}, 400, "Nonsense"),
        ("EntityDefinitions", {"$expand": "Keys"}, 400, "Keys"),
        ("EntityDefinitions", {"$filter": "Bogus eq 1"}, 400, "Bogus"),
        ("EntityDefinitions(LogicalName='nope')", {}, 404, "nope"),
        ("EntityDefinitions(LogicalName='account')/Attributes", {"$select": "Zzz"}, 400, "Zzz"),
    ],
)
def test_unknown_names_get_the_dataverse_error_envelope(api, path, params, status, named):
    answer = api(path, **params)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == "0x80060888" and named in error["message"]


def batch_body(boundary: str, targets: list[str]) -> str:
    parts = [
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary"
        f"\r\n\r\nGET {target} HTTP/1.1\r\nAccept: application/json\r\n\r\n"
        for target in targets
    ]
    return "".join(parts) + f"--{boundary}--\r\n"


def answers_of(response: requests.Response) -> list[tuple[int, dict]]:
    """Split a multipart/mixed batch answer into (status, JSON body) per part."""
    boundary = response.headers["Content-Type"].split("boundary=", 1)[1]
    parts = response.text.split(f"--{boundary}--")[0].split(f"--{boundary}")[1:]
    answers = []
    for part in parts:
        _, http_head, body = part.split("\r\n\r\n", 2)
        status = int(http_head.split()[1])
        answers.append((status, json.loads(body)))
    return answers


def test_batch_of_gets_answers_each_part_in_order(emulator, api):
    base = emulator.environment_url + API
    targets = [
        f"{base}/EntityDefinitions(LogicalName='account')?$select=LogicalName",
        "EntityDefinitions(LogicalName='nope')",
        f"{API}/EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName",
    ]
    response = api.post("$batch", batch_body("batch_x1", targets), "batch_x1")
    assert response.status_code == 200, response.text
    answers = answers_of(response)
    assert [status for status, _ in answers] == [200, 404, 200]
    assert answers[0][1]["LogicalName"] == "account"
    assert answers[1][1]["error"]["code"] == "0x80060888"
    assert {a["LogicalName"] for a in answers[2][1]["value"]} >= {"accountid"}


@pytest.mark.parametrize(
    ("content_type", "body", "named"),
    [
        ("application/json", "{}", "multipart/mixed"),
        ("multipart/mixed", "--b\r\n", "boundary"),
        ("multipart/mixed; boundary=b", "--b\r\nContent-Type: application/http\r\n\r\n", "--b--"),
        (
            "multipart/mixed; boundary=b",
            "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--",
            "text/plain",
        ),
        (
            "multipart/mixed; boundary=b",
            "--b\r\nContent-Type: application/http\r\n\r\nHELLO\r\n--b--",
            "HELLO",
        ),
    ],
)
def test_malformed_batch_gets_a_400_error_envelope(api, content_type, body, named):
    response = api.post("$batch", body, content_type=content_type)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "0x80048d19" and named in error["message"]


def labels_of(option_set: dict) -> dict[int, str]:
    return {o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"] for o in option_set["Options"]}


def test_choice_columns_expand_their_local_or_global_option_set(api, emulator):
    emulator.add_entity(donation_entity())
    picklists = "Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
    account = api(
        f"EntityDefinitions(LogicalName='account')/{picklists}",
        **{"$select": "LogicalName", "$expand": "OptionSet,GlobalOptionSet"},
    )
    assert account.status_code == 200, account.text
    industry = {a["LogicalName"]: a for a in account.json()["value"]}["industrycode"]
    assert labels_of(industry["OptionSet"])[1] == "Accounting"
    assert industry["GlobalOptionSet"] is None and not industry["OptionSet"]["IsGlobal"]

    donation = api(
        f"EntityDefinitions(LogicalName='donation')/{picklists}",
        **{"$expand": "GlobalOptionSet"},
    ).json()["value"]
    payment = {a["LogicalName"]: a for a in donation}["paymentmethod"]
    assert payment["GlobalOptionSet"]["Name"] == "new_paymentmethod"
    assert labels_of(payment["GlobalOptionSet"]) == {
        1: "Cash",
        2: "Card",
        3: "Direct Debit",
        4: "Bank Transfer",
    }

    status = api(
        "EntityDefinitions(LogicalName='account')/Attributes/"
        "Microsoft.Dynamics.CRM.StatusAttributeMetadata",
        **{"$expand": "OptionSet"},
    ).json()["value"][0]["OptionSet"]["Options"]
    assert {(o["Value"], o["State"]) for o in status} == {(1, 0), (2, 1)}


def test_option_set_expansion_outside_a_choice_class_is_an_unknown_property(api):
    answer = api("EntityDefinitions(LogicalName='account')/Attributes", **{"$expand": "OptionSet"})
    assert answer.status_code == 400
    assert "OptionSet" in answer.json()["error"]["message"]


def test_formatted_values_carry_the_choice_labels(api, emulator):
    emulator.insert("account", [account_row(0, industrycode=16, statecode=1, statuscode=2)])
    answer = api.get_prefer(
        "accounts",
        'odata.include-annotations="*"',
        **{"$select": "industrycode,statecode,statuscode"},
    )
    row = answer.json()["value"][0]
    formatted = "@OData.Community.Display.V1.FormattedValue"
    assert row[f"industrycode{formatted}"] == "Financial"
    assert (row[f"statecode{formatted}"], row[f"statuscode{formatted}"]) == ("Inactive", "Inactive")


@pytest.mark.parametrize(
    ("asked", "formatted", "lookup"),
    [
        ('"*"', True, True),
        ('"Microsoft.Dynamics.CRM.lookuplogicalname"', False, True),
        ('"Microsoft.Dynamics.CRM.*"', False, True),
        ('"OData.Community.Display.V1.FormattedValue"', True, False),
    ],
)
def test_include_annotations_returns_only_the_annotations_asked_for(
    api, emulator, asked, formatted, lookup
):
    owner = "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"
    emulator.insert(
        "account", [account_row(0, industrycode=16, _ownerid_value=key(9), **{owner: "team"})]
    )
    answer = api.get_prefer(
        "accounts",
        f"odata.include-annotations={asked}",
        **{"$select": "industrycode,_ownerid_value"},
    )
    row = answer.json()["value"][0]
    assert (owner in row, row.get(owner)) == (lookup, "team" if lookup else None)
    assert any(k.endswith("FormattedValue") for k in row) is formatted


def test_retrieve_total_record_count_and_the_count_cap(api, emulator):
    emulator.insert("account", [account_row(i) for i in range(5003)])
    counted = api("RetrieveTotalRecordCount(EntityNames=['account'])")
    assert counted.status_code == 200
    collection = counted.json()["EntityRecordCountCollection"]
    assert (collection["Keys"], collection["Values"]) == (["account"], [5003])
    capped = api("accounts", **{"$count": "true", "$select": "accountid", "$top": "1"}).json()
    assert capped["@odata.count"] == 5000
    assert capped["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is True
    unknown = api("RetrieveTotalRecordCount(EntityNames=['nope'])")
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]["message"]
