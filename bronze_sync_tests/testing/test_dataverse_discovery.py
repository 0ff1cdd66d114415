"""Discovery as Dataverse serves it: service document, $metadata and EntityDefinitions."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests

API = "/api/data/v9.2"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


@pytest.fixture
def api(emulator):
    session = requests.Session()
    session.trust_env, session.verify = False, emulator.ca_file
    form = {
        "grant_type": "client_credentials",
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
        "scope": emulator.environment_url + "/.default",
    }
    token = session.post(f"{emulator.authority_url}/oauth2/v2.0/token", data=form).json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    base = emulator.environment_url + API

    def get(path: str, **params: str) -> requests.Response:
        return session.get(f"{base}/{path}", params=params)

    return get


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
