"""The emulator's cheap pages: cached row JSON, fast filters and sorts, concurrent requests."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
from decimal import Decimal

import pytest

from bronze_sync.testing.dataverse.model import Attribute, Entity
from bronze_sync.testing.dataverse.odata import compare, encode_object, parse_filter, sort_key
from bronze_sync.testing.dataverse.queries import _sorted
from bronze_sync.testing.dataverse.rows_json import row_texts, shape
from bronze_sync_tests.dataverse import account_row, key, signed_in_session

API = "/api/data/v9.2"
UTC = dt.UTC


def _read_all(session, emulator, params: dict[str, str], prefer: str) -> list[dict]:
    query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    url: str | None = f"{emulator.environment_url}{API}/accounts?{query}"
    rows: list[dict] = []
    while url:
        response = session.get(url, headers={"Prefer": prefer})
        assert response.status_code == 200
        body = json.loads(response.text, parse_float=Decimal)
        rows += body["value"]
        url = body.get("@odata.nextLink")
    return rows


def _entity() -> Entity:
    return Entity(
        "thing",
        "things",
        "thingid",
        [
            Attribute("thingid", "Uniqueidentifier"),
            Attribute("label", "String"),
            Attribute("amount", "Money", precision=4),
            Attribute("flag", "Boolean"),
            Attribute("count", "Integer"),
            Attribute("status", "Picklist"),
            Attribute("when", "DateTime"),
            Attribute("day", "DateTime", behavior="DateOnly"),
            Attribute("ownerid", "Owner", targets=("systemuser", "team")),
        ],
    )


ROWS = [
    {
        "thingid": "a",
        "label": 'quote " and é and \\ and \n',
        "amount": Decimal("12.3400"),
        "flag": True,
        "count": 7,
        "status": 3,
        "when": dt.datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        "day": dt.date(2024, 5, 1),
        "_ownerid_value": "00000000-0000-0000-0000-000000000009",
    },
    {
        "thingid": "b",
        "label": None,
        "amount": Decimal("1E+2"),
        "flag": False,
        "count": -1,
        "status": None,
        "when": dt.datetime(999, 1, 1, tzinfo=UTC),  # before year 1000: the slow path
        "day": None,
        "_ownerid_value": None,
    },
    {
        "thingid": "c",
        "when": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "_ownerid_value": "00000000-0000-0000-0000-00000000000a",
        "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "team",  # polymorphic
    },
]


@pytest.mark.parametrize("annotations", [(), ("*",), ("Microsoft.Dynamics.CRM.lookuplogicalname",)])
def test_cached_row_json_is_what_encoding_the_shaped_row_gives(annotations):
    entity = _entity()
    for row in ROWS:
        entity.rows[row["thingid"]] = row
        entity.versions[row["thingid"]] = 7
    select = [a.web_name for a in entity.attributes]
    texts = row_texts(entity, ROWS, select, annotations)
    assert texts == [encode_object(shape(entity, r, select, annotations)) for r in ROWS]
    assert [json.loads(t)["thingid"] for t in texts] == ["a", "b", "c"]


def test_an_update_replaces_the_cached_json_of_that_row_only(emulator):
    emulator.insert("account", [account_row(i) for i in range(3)])
    session = signed_in_session(emulator)
    params = {"$select": "name,revenue"}
    before = _read_all(session, emulator, params, "")
    emulator.update("account", key(1), name="renamed", revenue=Decimal("5.5000"))
    after = _read_all(session, emulator, params, "")
    changed = {r["accountid"]: r for r in after}[key(1)]
    assert (changed["name"], changed["revenue"]) == ("renamed", Decimal("5.5000"))
    assert changed["@odata.etag"] != {r["accountid"]: r for r in before}[key(1)]["@odata.etag"]
    assert [r for r in after if r["accountid"] != key(1)] == [
        r for r in before if r["accountid"] != key(1)
    ]
    # A delete drops the row; a re-insert is served with its new values.
    emulator.delete("account", [key(2)])
    emulator.insert("account", [account_row(2, name="back")])
    again = {r["accountid"]: r for r in _read_all(session, emulator, params, "")}
    assert again[key(2)]["name"] == "back"


def test_concurrent_paged_reads_each_get_their_own_rows(emulator):
    start = dt.datetime(2024, 1, 1, tzinfo=UTC)
    rows = [account_row(i, created=start + dt.timedelta(hours=i)) for i in range(120)]
    emulator.insert("account", rows)
    emulator.latency = 0.05  # requests overlap while they wait
    ranges = [
        (start + dt.timedelta(hours=30 * n), start + dt.timedelta(hours=30 * n + 30))
        for n in range(4)
    ]
    found: dict[int, list[dict]] = {}

    def read(n: int) -> None:
        low, high = (t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in ranges[n])
        params = {
            "$select": "name,createdon",
            "$filter": f"createdon ge {low} and createdon lt {high}",
        }
        found[n] = _read_all(signed_in_session(emulator), emulator, params, "odata.maxpagesize=7")

    threads = [threading.Thread(target=read, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert emulator.max_in_flight > 1
    for n in range(4):
        assert [r["name"] for r in found[n]] == [f"account {i}" for i in range(30 * n, 30 * n + 30)]


def test_fast_filters_agree_with_compare():
    stamp = dt.datetime(2024, 5, 1, tzinfo=UTC)
    values = [None, stamp, stamp + dt.timedelta(seconds=1), dt.date(2024, 5, 1), "text"]
    for op in ("eq", "ne", "gt", "ge", "lt", "le"):
        for literal, text in ((stamp, "2024-05-01T00:00:00Z"), (None, "null")):
            predicate = parse_filter(f"x {op} {text}", lambda _: True)
            for value in values:
                try:
                    expected = compare(value, op, literal)
                except ValueError:
                    continue  # a string against a date-time: both refuse
                assert predicate({"x": value}) is expected, (value, op, literal)


def test_sorting_by_datetimes_matches_sort_key_and_mixed_columns_still_sort():
    stamps = [dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=m) for m in (5, 1, 5, 3)]
    rows = [{"id": i, "t": t} for i, t in enumerate(stamps)]
    for descending in (False, True):
        expected = sorted(rows, key=lambda r: sort_key(r["t"]), reverse=descending)
        assert _sorted(rows, "t", descending) == expected
    mixed = [*rows, {"id": 9, "t": None}, {"id": 10, "t": dt.date(2024, 1, 1)}]
    assert [r["id"] for r in _sorted(mixed, "t", False)][:2] == [9, 10]
