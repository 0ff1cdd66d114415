"""Compare a source schema with a bronze table's and plan what bronze must do."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from bronze_sync.bronze.tracking import TRACKING_FIELDS, TRACKING_NAMES
from bronze_sync.errors import SchemaChangeError, SourceSchemaError

_INT_WIDTH = {pa.int8(): 8, pa.int16(): 16, pa.int32(): 32, pa.int64(): 64}


@dataclass(frozen=True)
class SchemaPlan:
    """What a sync must change in the bronze schema before it writes rows."""

    target: pa.Schema
    added: tuple[pa.Field, ...]
    dropped: tuple[str, ...]
    missing_tracking: tuple[pa.Field, ...]

    @property
    def changes_schema(self) -> bool:
        """Return True when bronze needs new columns."""
        return bool(self.added or self.missing_tracking)


def check_source_columns(source: pa.Schema, table: str) -> None:
    """Refuse source columns whose names collide with bronze tracking columns."""
    clash = sorted(set(source.names) & TRACKING_NAMES)
    if clash:
        raise SourceSchemaError(
            f"source columns {', '.join(clash)} collide with bronze tracking columns", table=table
        )


def plan_schema(source: pa.Schema, bronze: pa.Schema, table: str) -> SchemaPlan:
    """Return the schema plan, or raise SchemaChangeError for a type bronze cannot follow."""
    check_source_columns(source, table)
    bronze_types = {f.name: f.type for f in bronze}
    problems = []
    for field in source:
        old = bronze_types.get(field.name)
        if old is not None and not can_store(field.type, old):
            problems.append(f"{field.name!r} changed from {old} to {field.type}")
    if problems:
        raise SchemaChangeError(
            "incompatible source type change: "
            + "; ".join(problems)
            + " (bronze keeps the old type so history stays readable; add a new column in the "
            "source, or migrate the bronze table by hand)",
            table=table,
        )
    added = tuple(pa.field(f.name, f.type) for f in source if f.name not in bronze_types)
    dropped = tuple(
        name for name in bronze.names if name not in TRACKING_NAMES and name not in source.names
    )
    missing = tuple(f for f in TRACKING_FIELDS if f.name not in bronze_types)
    target_fields = [pa.field(n, bronze_types[n]) for n in bronze.names if n not in TRACKING_NAMES]
    target = pa.schema([*target_fields, *added])
    return SchemaPlan(target=target, added=added, dropped=dropped, missing_tracking=missing)


def can_store(new: pa.DataType, old: pa.DataType) -> bool:
    """Return True when every value of type `new` fits losslessly in a column of type `old`."""
    if new == old:
        return True
    if new in _INT_WIDTH and old in _INT_WIDTH:
        return _INT_WIDTH[new] <= _INT_WIDTH[old]
    if pa.types.is_floating(new) and pa.types.is_floating(old):
        return new.bit_width <= old.bit_width
    if pa.types.is_decimal(new) and pa.types.is_decimal(old):
        return new.scale <= old.scale and new.precision - new.scale <= old.precision - old.scale
    if pa.types.is_integer(new) and pa.types.is_decimal(old) and new in _INT_WIDTH:
        digits = {8: 3, 16: 5, 32: 10, 64: 19}[_INT_WIDTH[new]]
        return old.precision - old.scale >= digits
    if pa.types.is_timestamp(new) and pa.types.is_timestamp(old):
        return old.tz is not None and new.tz is not None
    string_like = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    return any(f(new) for f in string_like) and any(f(old) for f in string_like)
