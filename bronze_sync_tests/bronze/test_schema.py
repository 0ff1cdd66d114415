"""Schema planning: what bronze can follow, and what it must refuse."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bronze_sync.bronze.schema import can_store, plan_schema
from bronze_sync.bronze.tracking import TRACKING_FIELDS, bronze_schema
from bronze_sync.errors import SchemaChangeError, SourceSchemaError

BRONZE = bronze_schema(
    pa.schema([("id", pa.string()), ("n", pa.int32()), ("amount", pa.decimal128(19, 4))])
)


@pytest.mark.parametrize(
    ("new", "old", "ok"),
    [
        (pa.int16(), pa.int64(), True),
        (pa.int64(), pa.int32(), False),
        (pa.float32(), pa.float64(), True),
        (pa.decimal128(10, 2), pa.decimal128(19, 4), True),
        (pa.decimal128(19, 6), pa.decimal128(19, 4), False),
        (pa.decimal128(30, 4), pa.decimal128(19, 4), False),
        (pa.int32(), pa.decimal128(19, 4), True),
        (pa.string(), pa.int32(), False),
        (pa.large_string(), pa.string(), True),
        (pa.timestamp("us", tz="UTC"), pa.timestamp("us", tz="UTC"), True),
    ],
)
def test_can_store(new, old, ok):
    assert can_store(new, old) is ok


def test_plan_adds_new_and_keeps_dropped_columns():
    source = pa.schema([("id", pa.string()), ("n", pa.int16()), ("city", pa.string())])
    plan = plan_schema(source, BRONZE, "t")
    assert [f.name for f in plan.added] == ["city"]
    assert plan.dropped == ("amount",)
    assert plan.target.field("n").type == pa.int32()  # bronze keeps its wider type
    assert not plan.missing_tracking


def test_plan_finds_missing_tracking_columns():
    plan = plan_schema(pa.schema([("id", pa.string())]), pa.schema([("id", pa.string())]), "t")
    assert plan.missing_tracking == TRACKING_FIELDS


def test_incompatible_change_lists_every_column():
    source = pa.schema([("id", pa.string()), ("n", pa.string()), ("amount", pa.decimal128(19, 8))])
    with pytest.raises(
        SchemaChangeError, match=r"t: incompatible source type change: 'n' changed .*'amount'"
    ):
        plan_schema(source, BRONZE, "t")


def test_source_column_named_like_tracking_column_is_refused():
    with pytest.raises(SourceSchemaError, match="IsDeleted collide with bronze tracking columns"):
        plan_schema(pa.schema([("id", pa.string()), ("IsDeleted", pa.bool_())]), BRONZE, "t")
