"""`bronze-sync sync` and `status` with partitioned tables: new values, ranges, bad input."""

from __future__ import annotations

import uuid

import pytest

from bronze_sync.bronze.commit import commit_fields
from bronze_sync_tests.helpers import PgTable
from bronze_sync_tests.positions import PositionsTable

DAYS = [20260101, 20260102, 20260105, 20260106, 20260107]


@pytest.fixture
def positions(pg_engine, pg_schema) -> PositionsTable:
    # A name of its own: the session's Dagster home keeps every test's partition keys.
    table = PositionsTable(pg_engine, pg_schema, f"pos_{uuid.uuid4().hex[:8]}")
    table.add_days(DAYS)
    return table


def version(harness, name):
    delta = harness.delta(name)
    return None if delta is None else delta.version()


@pytest.mark.slow
def test_sync_loads_merged_and_partitioned_tables_and_status_shows_kinds(
    pg_engine, pg_schema, positions, make_config, harness_for, run
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b", "c"])
    config = make_config([account.config(), positions.config(initial_partitions=3)])
    first = run("sync", "--config", config.file, "--partition", "2026-11-22")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "20260105..20260107 (3 values)" in first.stdout
    assert f"pins account@v0, {positions.name}@v0" in first.stdout
    h = harness_for(config)
    assert h.bronze("account").num_rows == 3 and h.bronze(positions.name).num_rows == 9

    again = run("sync", "--config", config.file, "--partition", "2026-11-23")
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{positions.name}: no new partition values in the source" in again.stdout
    positions.add_days([20260108])
    third = run("sync", "--config", config.file, "--partition", "2026-11-24")
    assert third.returncode == 0 and "20260108" in third.stdout
    assert version(h, positions.name) == 1

    status = run("status", "--config", config.file)
    assert status.returncode == 0
    lines = {line.split("│")[1].strip(): line for line in status.stdout.splitlines() if "│" in line}
    assert "merged" in lines["account"]
    assert "partitioned 20260105..20260108 (4)" in lines[positions.name]


@pytest.mark.slow
def test_partition_values_reload_a_range_in_one_run(positions, make_config, harness_for, run):
    config = make_config([positions.config(initial_partitions=3)])
    assert run("sync", "--config", config.file).returncode == 0
    positions.restate(20260101, "restated")  # bronze holds no row of it yet
    positions.restate(20260106, "restated")
    positions.restate(20260107, "outside the range")
    done = run(
        "sync", "--config", config.file, "--tables", positions.name,
        "--partition-values", "20260101:20260106",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "20260101..20260106 (4 values)" in done.stdout
    h = harness_for(config)
    delta = h.delta(positions.name)
    assert delta.version() == 1
    assert commit_fields(delta.history()[0])["partition_values"] == [
        "20260101", "20260102", "20260105", "20260106",
    ]  # fmt: skip
    books = {}
    for row in h.bronze(positions.name).to_pylist():
        books.setdefault(row["cobid"], set()).add(row["book"])
    assert books == {
        20260101: {"restated"},
        20260102: {"original"},
        20260105: {"original"},
        20260106: {"restated"},
        20260107: {"original"},
    }


BAD_INPUTS = [
    ("positions", "20260107:20260105", "FROM is after TO"),
    ("positions", "2026x:20260107", "partition value '2026x' is not a valid"),
    ("positions", "20260103:20260104", "neither the source nor bronze holds a value"),
    ("positions", "20260101-20260107", "is not a valid"),
    ("positions", "1:2:3", "is not FROM:TO"),
    ("account", "20260101:20260107", "is for partitioned tables (this table is merged)"),
    (None, "20260101:20260107", "--partition-values needs --tables"),
]


@pytest.mark.slow
def test_bad_partition_values_exit_2_and_write_nothing(
    pg_engine, pg_schema, positions, make_config, harness_for, run
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a"])
    config = make_config([account.config(), positions.config(initial_partitions=3)])
    assert run("sync", "--config", config.file).returncode == 0
    h = harness_for(config)
    before = (version(h, "account"), version(h, positions.name))
    chosen = {"positions": ["--tables", positions.name], "account": ["--tables", "account"]}
    for tables, values, message in BAD_INPUTS:
        args = [*chosen.get(tables or "", []), "--partition-values", values]
        done = run("sync", "--config", config.file, *args)
        assert done.returncode == 2, (values, done.stdout[-2000:])
        assert message in done.stderr and "nothing was written" in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert (version(h, "account"), version(h, positions.name)) == before


@pytest.mark.slow
def test_a_range_before_the_first_sync_creates_bronze_from_it(
    positions, make_config, harness_for, run
):
    config = make_config([positions.config(initial_partitions=3)])
    done = run(
        "sync", "--config", config.file, "--tables", positions.name,
        "--partition-values", "20260101:20260102",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    bronze = harness_for(config).bronze(positions.name)
    assert sorted(set(bronze.column("cobid").to_pylist())) == [20260101, 20260102]


def test_kind_columns_of_an_unusable_type_exit_2(pg_engine, pg_schema, make_config, run):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f'CREATE TABLE "{pg_schema}".prices (id int, day timestamptz, price float8, '
            "latest text, PRIMARY KEY (id, day))"
        )
    source = f"{pg_schema}.prices"
    partitioned = {
        "name": "prices", "source": source, "kind": "partitioned",
        "primary_key": ["id", "price"], "partition_column": "price",
    }  # fmt: skip
    scd2 = {
        "name": "price_versions", "source": source, "kind": "scd2", "primary_key": ["id", "day"],
        "business_key": "id", "modified_column": "day", "latest_column": "latest",
    }  # fmt: skip
    config = make_config([partitioned, scd2])
    done = run("sync", "--config", config.file)
    assert done.returncode == 2
    assert "partition_column 'price' is double; it must be an integer" in done.stderr
    assert "latest_column 'latest' is string; it must be a boolean" in done.stderr
    missing = make_config([{**scd2, "latest_column": "is_latest"}])
    done = run("sync", "--config", missing.file)
    assert done.returncode == 2 and "latest_column 'is_latest' is not a column" in done.stderr
