"""Compare a source schema with a bronze table's and plan what bronze must do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from bronze_sync.bronze.tracking import TRACKING_FIELDS, TRACKING_NAMES
from bronze_sync.errors import ConfigError, SchemaChangeError, SourceSchemaError

_INT_WIDTH = {pa.int8(): 8, pa.int16(): 16, pa.int32(): 32, pa.int64(): 64}


@dataclass(frozen=True)
class Widening:
    """A source column whose type grew in a way every old value survives (int -> bigint)."""

    name: str
    old: pa.DataType
    new: pa.DataType

    def describe(self) -> str:
        """Return `name old -> new` for audit notes."""
        return f"{self.name} {self.old} -> {self.new}"


@dataclass(frozen=True)
class SchemaPlan:
    """What a sync must change in the bronze schema before or while it writes rows."""

    target: pa.Schema
    added: tuple[pa.Field, ...]
    dropped: tuple[str, ...]
    missing_tracking: tuple[pa.Field, ...]
    widened: tuple[Widening, ...] = ()
    # Columns bronze kept after the source dropped them, now back in the source: their bronze
    # values are stale and are read afresh, like added columns.
    readded: tuple[str, ...] = ()
    # The row metadata columns the table keeps, and those bronze does not hold yet.
    metadata: tuple[pa.Field, ...] = ()
    missing_metadata: tuple[pa.Field, ...] = ()

    @property
    def changes_schema(self) -> bool:
        """Return True when bronze needs new columns."""
        return bool(self.added or self.missing_tracking or self.missing_metadata)

    @property
    def rewrites_table(self) -> bool:
        """Return True when the sync's commit must rewrite every data file (new schema/values)."""
        return bool(self.added or self.missing_tracking or self.readded or self.missing_metadata)

    @property
    def fill_columns(self) -> tuple[str, ...]:
        """Return the columns whose values every bronze row must get from the source."""
        return (*(f.name for f in self.added), *self.readded)

    def table_schema(self) -> pa.Schema:
        """Return the bronze schema after this plan: data, tracking, then metadata columns."""
        return pa.schema([*self.target, *TRACKING_FIELDS, *self.metadata])

    def read_schema(self, source_names: list[str]) -> pa.Schema:
        """Return the schema the source's rows are read in (bronze types, source order)."""
        return pa.schema([self.target.field(n) for n in source_names])


def check_source_columns(source: pa.Schema, table: str, metadata: Sequence[pa.Field] = ()) -> None:
    """Refuse source columns whose names collide with bronze tracking or metadata columns."""
    clash = sorted(set(source.names) & TRACKING_NAMES)
    if clash:
        raise SourceSchemaError(
            f"source columns {', '.join(clash)} collide with bronze tracking columns", table=table
        )
    taken = sorted(set(source.names) & {f.name for f in metadata})
    if taken:
        raise ConfigError(
            f"table {table}: metadata_columns {', '.join(taken)} is also a column of the "
            f"source table; remove it from metadata_columns or rename the source column"
        )


def plan_schema(
    source: pa.Schema,
    bronze: pa.Schema,
    table: str,
    dropped_before: Sequence[str] = (),
    metadata: Sequence[pa.Field] = (),
) -> SchemaPlan:
    """Return the schema plan, or raise SchemaChangeError for a type bronze cannot follow.

    `dropped_before` names the columns the source lacked at the previous sync; `metadata`
    holds the row metadata columns the table keeps.
    """
    check_source_columns(source, table, metadata)
    managed = TRACKING_NAMES | {f.name for f in metadata}
    bronze_types = {f.name: f.type for f in bronze}
    problems, widened = [], []
    for field in source:
        old = bronze_types.get(field.name)
        if old is None or can_store(field.type, old):
            continue
        if can_store(old, field.type) and not pa.types.is_timestamp(old):
            widened.append(Widening(field.name, old, field.type))
        else:
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
        name for name in bronze.names if name not in managed and name not in source.names
    )
    readded = tuple(n for n in dropped_before if n in bronze_types and n in source.names)
    missing = tuple(f for f in TRACKING_FIELDS if f.name not in bronze_types)
    wider = {w.name: w.new for w in widened}
    target_fields = [
        pa.field(n, wider.get(n, bronze_types[n])) for n in bronze.names if n not in managed
    ]
    target = pa.schema([*target_fields, *added])
    return SchemaPlan(
        target=target,
        added=added,
        dropped=dropped,
        missing_tracking=missing,
        widened=tuple(widened),
        readded=readded,
        metadata=tuple(metadata),
        missing_metadata=tuple(f for f in metadata if f.name not in bronze_types),
    )


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
