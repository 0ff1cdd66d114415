"""`record_hash`: SHA-256 of a row's source values in a canonical, dialect-free encoding.

The encoding (docs/bronze-tables.md, "Row metadata columns"), built column-wise with Arrow:
* columns in name order (Unicode code points), each as `name` U+001E `value`, joined by
  U+001F; a null value leaves its column out;
* integers and decimals in plain decimal notation without trailing fractional zeros
  (`7`, `-1.5`, `0`); floats as their shortest round-trip text (`0.1`, `1e+20`);
* booleans `true`/`false`; dates `YYYY-MM-DD`; timestamps in UTC as
  `YYYY-MM-DDTHH:MM:SS.ffffffZ` (naive ones are taken as UTC);
* text as UTF-8 with `\\`, U+001E and U+001F escaped as `\\\\`, `\\x1e`, `\\x1f`; binary as
  lowercase hex.
So the same values give the same hash whether PostgreSQL, SQL Server, SQLite or Dataverse
supplied them, and a value moving between columns changes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

FIELD = "\x1e"
SEPARATOR = "\x1f"


def record_hashes(rows: pa.Table, columns: Sequence[str]) -> pa.Array:
    """Return the SHA-256 (hex) of each row's `columns` in the canonical encoding."""
    parts = [
        pc.binary_join_element_wise(pa.scalar(name + FIELD), canonical_text(rows.column(name)), "")
        for name in sorted(columns)
    ]
    if not parts:
        joined = pa.array([""] * rows.num_rows, pa.string())
    else:
        joined = pc.binary_join_element_wise(*parts, SEPARATOR, null_handling="skip")
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    digests = [hashlib.sha256(v.encode("utf-8")).hexdigest() for v in joined.to_pylist()]
    return pa.array(digests, pa.string())


def canonical_text(values: pa.ChunkedArray | pa.Array) -> pa.Array | pa.ChunkedArray:
    """Return a column's values as canonical text (nulls stay null)."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        return canonical_text(pc.cast(values, kind.value_type))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _escaped(pc.cast(values, pa.string()))
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return pc.cast(values, pa.string())
    if pa.types.is_decimal(kind):
        return _plain_decimal(pc.cast(values, pa.string()))
    if pa.types.is_floating(kind):
        return _plain_decimal(pc.cast(pc.cast(values, pa.float64()), pa.string()))
    if pa.types.is_timestamp(kind):
        utc = pc.cast(values, pa.timestamp("us", tz="UTC"))
        return pc.strftime(utc, format="%Y-%m-%dT%H:%M:%SZ")
    if pa.types.is_date(kind):
        return pc.strftime(values, format="%Y-%m-%d")
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return pa.array([None if v is None else v.hex() for v in values.to_pylist()], pa.string())
    return _escaped(pc.cast(values, pa.string()))


def _escaped(text: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    text = pc.replace_substring(text, "\\", "\\\\")
    text = pc.replace_substring(text, FIELD, "\\x1e")
    return pc.replace_substring(text, SEPARATOR, "\\x1f")


def _plain_decimal(text: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Drop trailing fractional zeros (`1.50` → `1.5`, `2.0` → `2`, `-0.0` → `0`)."""
    text = pc.replace_substring_regex(text, r"^(-?\d+)\.0*$", r"\1")
    text = pc.replace_substring_regex(text, r"^(-?\d+\.\d*?[1-9])0+$", r"\1")
    return pc.replace_substring_regex(text, r"^-0$", "0")
