"""kind: partitioned — daily slices of a partition column, loaded, reloaded and rolled back."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from bronze_sync.errors import ConfigError, MassDeleteError, SourceSchemaError
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync.sync import run_table_sync
from bronze_sync.sync.partitioned import values_in_range
from bronze_sync_tests.rollback.scenario import checkpoint
from bronze_sync_tests.sync.children import roll_back, unaudited_versions
from bronze_sync_tests.sync.kind_tables import position_rows, positions

COBIDS = [20260105, 20260106, 20260107, 20260108, 20260109]


@pytest.fixture
def source(pg_engine, pg_schema):
    table = positions(pg_engine, pg_schema)
    for cobid in COBIDS:
        table.insert(position_rows(cobid, range(20)))
    return table


@pytest.fixture
def h(source, make_config, harness_for):
    entry = {
        "name": "positions",
        "source": source.source,
        "primary_key": ["id", "cobid"],
        "kind": "partitioned",
        "partition_column": "cobid",
        "initial_partitions": 3,
        "max_delete_fraction": 0.5,
    }
    return harness_for(make_config([entry]))


def cobids(h):
    return sorted(set(h.bronze().column("cobid").to_pylist()))


def files(h):
    """Return the paths of the table's current data files."""
    return set(pa.table(h.delta().get_add_actions(flatten=True)).column("path").to_pylist())


def reload(h, *values, **settings):
    job = h.job(**settings)
    job.partition_values = tuple(values)
    return run_table_sync(job, h.config.tables[0])


def test_first_sync_loads_the_newest_values_into_delta_partitions(h):
    result = h.sync()
    assert (result.mode, result.inserted) == ("initial", 60)
    assert result.partition_values == ["20260107", "20260108", "20260109"]
    assert cobids(h) == COBIDS[-3:]
    folders = sorted(p.name for p in h.delta_dir().iterdir() if p.name.startswith("cobid="))
    assert folders == ["cobid=20260107", "cobid=20260108", "cobid=20260109"]
    assert h.delta().metadata().partition_columns == ["cobid"]


def test_next_sync_loads_only_new_values_and_touches_no_other_file(source, h):
    h.sync()
    before = files(h)
    source.insert(position_rows(20260110, range(5)))
    source.insert(position_rows(20260104, range(5)))  # older than bronze's newest: not new

    result = h.sync()

    assert result.partition_values == ["20260110"] and result.inserted == 5
    assert cobids(h) == [*COBIDS[-3:], 20260110]
    after = files(h)
    assert before <= after and all(p.startswith("cobid=20260110/") for p in after - before)
    assert h.sync().mode == "skipped"  # nothing new: no read of rows, no commit


def test_reload_of_one_value_updates_flags_and_leaves_the_rest(source, h):
    h.sync()
    t = source.table
    source.run(t.update().where(t.c.cobid == 20260108, t.c.id == 3).values(qty=Decimal("-5")))
    source.run(t.delete().where(t.c.cobid == 20260108, t.c.id == 4))
    source.run(t.update().where(t.c.cobid == 20260109, t.c.id == 3).values(qty=Decimal("9")))
    untouched = {p for p in files(h) if "20260108" not in p}
    version = h.delta().version()

    result = reload(h, 20260108)

    assert (result.updated, result.deleted, result.inserted) == (1, 1, 0)
    assert result.unchanged == 18 and result.scope_active == result.source_rows == 19
    assert h.delta().version() == version + 1
    rows = {(r["id"], r["cobid"]): r for r in h.bronze().to_pylist()}
    assert rows[(3, 20260108)]["qty"] == Decimal("-5") and rows[(4, 20260108)]["IsDeleted"]
    assert rows[(3, 20260109)]["qty"] == Decimal("1.00")  # not reloaded: unread, unchanged
    assert untouched <= files(h)
    audit = h.meta.read(SYNC_AUDIT_LOG).to_pylist()
    sync_row = [r for r in audit if r["Operation"] == "DataSync"][-1]
    assert "partition_values=20260108" in sync_row["Notes"]
    assert unaudited_versions(h) == []


def test_rolled_back_value_is_loaded_again_by_the_next_sync(source, h):
    h.sync()
    checkpoint(h, "before_20260110")
    source.insert(position_rows(20260110, range(7)))
    h.sync()
    assert 20260110 in cobids(h)

    assert roll_back(h, "before_20260110").success
    assert 20260110 not in cobids(h)  # bronze itself says what it holds

    result = h.sync()
    assert result.partition_values == ["20260110"] and 20260110 in cobids(h)


def test_range_holds_source_and_bronze_values(source, h):
    h.sync()
    t = source.table
    source.run(t.delete().where(t.c.cobid == 20260107))  # the source lost a whole value
    field = h.source.describe(h.config.tables[0]).field("cobid")
    delta = h.delta()
    values = values_in_range(h.source, h.config.tables[0], delta, field, "20260106", "20260108")
    assert values == [20260106, 20260107, 20260108]

    with pytest.raises(MassDeleteError, match="flag 20 of 20 active rows"):
        reload(h, 20260107)  # the guard counts within the reloaded values
    result = reload(h, 20260107, allow_mass_delete=True)
    assert result.deleted == 20
    flagged = h.bronze().filter(pc.equal(h.bronze().column("cobid"), 20260107))
    assert set(flagged.column("IsDeleted").to_pylist()) == {True}


@pytest.mark.parametrize(
    ("low", "high", "message"),
    [
        ("20260109", "20260105", "FROM is after TO"),
        ("20250101", "20250131", "neither the source nor bronze holds a value"),
        ("2026-01-01", "20260131", "not a valid int32"),
    ],
)
def test_bad_ranges_are_refused(source, h, low, high, message):
    h.sync()
    field = h.source.describe(h.config.tables[0]).field("cobid")
    with pytest.raises(ConfigError, match=message):
        values_in_range(h.source, h.config.tables[0], h.delta(), field, low, high)


def test_partition_column_of_an_unusable_type_is_refused(
    pg_engine, pg_schema, make_config, harness_for
):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f'create table "{pg_schema}".snap (id int, at timestamptz, primary key (id, at))'
        )
    entry = {
        "name": "snap",
        "source": f"{pg_schema}.snap",
        "primary_key": ["id", "at"],
        "kind": "partitioned",
        "partition_column": "at",
    }
    h = harness_for(make_config([entry]))
    with pytest.raises(SourceSchemaError, match=r"must be an integer .*, a date or a string"):
        h.sync()
    assert not Path(h.store.table_uri("snap")).exists()  # nothing written


def test_added_column_reaches_every_partition_in_one_commit(source, h):
    h.sync()
    source.run(sa.text(f"alter table {source.source} add column desk text default 'rates'"))
    version = h.delta().version()

    result = h.sync()

    assert result.columns_added == ["desk"] and h.delta().version() == version + 1
    assert set(h.bronze().column("desk").to_pylist()) == {"rates"}
    assert cobids(h) == COBIDS[-3:] and h.delta().metadata().partition_columns == ["cobid"]
    assert all(p.startswith("cobid=") for p in files(h))
