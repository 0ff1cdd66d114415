"""Web API pages of entity rows parsed by Arrow's JSON reader, `json.loads` as the fallback.

Parsing a 5,000-row page with `json.loads` and converting the dicts to Arrow held the GIL
for about 5 µs a row, so parallel range reads queued behind one core. Arrow reads the page
body straight into typed columns with the GIL released. Arrow is stricter than `to_batch`
in places (an integer written as `1.0`, a decimal with trailing zeros past its scale); a page
it refuses is parsed again with `json.loads`, so `to_batch` converts it, or names the column
holding the bad value, as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

NEXT_LINK = "@odata.nextLink"
DELTA_LINK = "@odata.deltaLink"


@dataclass(frozen=True)
class Page:
    """One page: its rows as a batch (or as dicts when Arrow refused them) and its links."""

    batch: pa.RecordBatch | None  # None: see rows
    rows: list[dict[str, Any]]
    next_link: str | None
    delta_link: str | None


def read_page(content: bytes, schema: pa.Schema) -> Page:
    """Return the page in `content`; raise ValueError when it is not JSON (cut off)."""
    try:
        return _arrow_page(content, schema)
    except pa.ArrowException:
        body = json.loads(content, parse_float=Decimal)
        return Page(None, body.get("value") or [], body.get(NEXT_LINK), body.get(DELTA_LINK))


def _arrow_page(content: bytes, schema: pa.Schema) -> Page:
    # Date-times and dates are read as text and cast as to_batch casts them: Arrow's JSON
    # reader would take a date for a date-time and cannot read a date at all.
    read_as = [pa.field(f.name, pa.string() if _temporal(f.type) else f.type) for f in schema]
    outer = pa.schema(
        [
            pa.field("value", pa.list_(pa.struct(read_as))),
            pa.field(NEXT_LINK, pa.string()),
            pa.field(DELTA_LINK, pa.string()),
        ]
    )
    table = pj.read_json(
        pa.BufferReader(content),
        read_options=pj.ReadOptions(use_threads=False, block_size=len(content) + 1),
        parse_options=pj.ParseOptions(
            explicit_schema=outer, unexpected_field_behavior="ignore", newlines_in_values=True
        ),
    )
    if table.num_rows != 1:
        raise pa.ArrowInvalid(f"expected one JSON object, found {table.num_rows}")
    values = table.column("value").combine_chunks()
    rows = values.flatten() if values.null_count == 0 else pa.array([], pa.struct(read_as))
    arrays = [
        pc.cast(rows.field(i), field.type) if _temporal(field.type) else rows.field(i)
        for i, field in enumerate(schema)
    ]
    links = [table.column(name)[0].as_py() for name in (NEXT_LINK, DELTA_LINK)]
    return Page(pa.RecordBatch.from_arrays(arrays, schema=schema), [], *links)


def _temporal(kind: pa.DataType) -> bool:
    return bool(pa.types.is_timestamp(kind) or pa.types.is_date(kind))
