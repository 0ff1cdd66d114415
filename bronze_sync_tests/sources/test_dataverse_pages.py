"""Pages parsed by Arrow's JSON reader agree with json.loads + to_batch, and fall back to it."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa
import pytest

from bronze_sync.errors import SourceDataError
from bronze_sync.sources.dataverse_pages import read_page
from bronze_sync.sources.dataverse_schema import UTC_TS, to_batch

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("state", pa.int32()),
        ("version", pa.int64()),
        ("revenue", pa.decimal128(19, 4)),
        ("rate", pa.decimal128(23, 10)),
        ("ratio", pa.float64()),
        ("active", pa.bool_()),
        ("created", UTC_TS),
        ("day", pa.date32()),
    ]
)
ROWS = [
    '{"@odata.etag":"W/\\"1\\"","id":"a\\u00e9\\"","state":1,"version":9007199254740993,'
    '"revenue":922337203685477.5807,"rate":1.0000000001,"ratio":0.1,"active":true,'
    '"created":"2024-05-01T10:00:00Z","day":"2024-05-01",'
    '"state@OData.Community.Display.V1.FormattedValue":"Active"}',
    '{"id":"b","state":null,"version":null,"revenue":5,"rate":null,"ratio":2,"active":false,'
    '"created":"2024-05-01T12:00:00+02:00","day":null}',
    '{"id":"c"}',
]


def _body(rows: list[str], **links: str) -> bytes:
    extra = "".join(f',"@odata.{k}":{json.dumps(v)}' for k, v in links.items())
    return ('{"@odata.context":"x","value":[' + ",".join(rows) + "]" + extra + "}").encode()


def test_arrow_reads_the_rows_as_to_batch_converts_them():
    content = _body(ROWS, nextLink="https://e/api/data/v9.2/things?$skiptoken=1")
    page = read_page(content, SCHEMA)
    assert page.batch is not None and page.rows == []
    expected = to_batch(json.loads(content, parse_float=Decimal)["value"], SCHEMA, "things")
    assert page.batch.equals(expected)
    assert page.batch.column("revenue")[0].as_py() == Decimal("922337203685477.5807")
    assert (page.next_link, page.delta_link) == (
        "https://e/api/data/v9.2/things?$skiptoken=1",
        None,
    )


def test_links_and_empty_pages():
    page = read_page(_body([], deltaLink="https://e/d?$deltatoken=5!x"), SCHEMA)
    assert page.batch is not None and page.batch.num_rows == 0
    assert (page.next_link, page.delta_link) == (None, "https://e/d?$deltatoken=5!x")


def test_values_arrow_refuses_fall_back_to_json_and_to_batch():
    # An integer written as 1.0 is refused by Arrow's reader but converted by to_batch.
    page = read_page(_body(['{"id":"a","state":1.0}']), SCHEMA)
    assert page.batch is None and page.rows == [{"id": "a", "state": Decimal("1.0")}]
    assert to_batch(page.rows, SCHEMA, "things").column("state").to_pylist() == [1]
    # A bad value still names its column.
    bad = read_page(_body(['{"id":"a","created":"yesterday"}']), SCHEMA)
    with pytest.raises(SourceDataError, match="created"):
        to_batch(bad.rows, SCHEMA, "things")


def test_a_cut_off_body_raises_value_error_so_the_request_is_retried():
    content = _body(ROWS)
    with pytest.raises(ValueError):
        read_page(content[: len(content) // 2], SCHEMA)
