"""The SQL source against the real PostgreSQL server, on both fetch paths."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

from bronze_sync.errors import SourceSchemaError, SourceUnavailableError
from bronze_sync.sources import open_source
from bronze_sync.sources.pg_adbc import compile_for_copy

FAST_PATHS = ["auto", "off"]  # auto = ADBC (COPY binary); off = SQLAlchemy row fetch


@pytest.fixture
def typed_table(pg_engine, pg_schema):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"""CREATE TABLE {pg_schema}.typed (
                id uuid PRIMARY KEY, amount numeric(38,18), price money, ratio numeric,
                at timestamptz, local_at timestamp, day date, flag boolean, n int, big bigint,
                r real, doc jsonb, note text)"""
        )
        conn.exec_driver_sql(
            f"""INSERT INTO {pg_schema}.typed VALUES
            ('6f1d3c1e-7b0a-4a53-9a5e-0b2f1c9d4e21', 12345678901234567890.123456789012345678, 12.34,
             5.5, '2024-03-01 10:00:00+02', '2024-03-01 10:00:00', '2024-03-01', true, 7, 8,
             1.5, '{{"a": 1}}', 'x'),
            ('00000000-0000-0000-0000-000000000000', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL, NULL, NULL, NULL)"""
        )
    return f"{pg_schema}.typed"


def table_config(make_config, source, fast_path, **settings):
    config = make_config(
        [{"name": "typed", "source": source, "primary_key": "id", **settings}],
        source={"fast_path": fast_path},
    )
    return config, config.tables[0]


@pytest.mark.parametrize("fast_path", FAST_PATHS)
def test_schema_comes_from_the_catalog(make_config, typed_table, fast_path):
    config, table = table_config(make_config, typed_table, fast_path)
    with open_source(config) as source:
        schema = source.describe(table)
    assert schema.field("amount").type == pa.decimal128(38, 18)
    assert schema.field("price").type == pa.decimal128(19, 2)
    assert schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("local_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("id").type == pa.string()
    assert schema.field("amount").metadata[b"source_type"] == b"NUMERIC(38, 18)"


@pytest.mark.parametrize("fast_path", FAST_PATHS)
def test_values_are_exact_and_utc(make_config, typed_table, fast_path):
    config, table = table_config(make_config, typed_table, fast_path)
    with open_source(config) as source:
        schema = source.describe(table)
        rows = pa.Table.from_batches(list(source.read_rows(table, schema, None)), schema)
    row = {r["id"]: r for r in rows.to_pylist()}["6f1d3c1e-7b0a-4a53-9a5e-0b2f1c9d4e21"]
    assert row["amount"] == Decimal("12345678901234567890.123456789012345678")
    assert row["price"] == Decimal("12.34") and row["ratio"] == Decimal("5.5")
    assert row["at"] == dt.datetime(2024, 3, 1, 8, tzinfo=dt.UTC)
    assert row["local_at"] == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    assert row["doc"] == '{"a": 1}' and row["flag"] is True and row["big"] == 8


def test_both_fetch_paths_return_identical_tables(make_config, typed_table):
    tables = []
    for fast_path in FAST_PATHS:
        config, table = table_config(make_config, typed_table, fast_path)
        with open_source(config) as source:
            schema = source.describe(table)
            data = pa.Table.from_batches(list(source.read_rows(table, schema, None)), schema)
        tables.append(data.sort_by("id"))
    assert tables[0].equals(tables[1])


@pytest.mark.parametrize("fast_path", FAST_PATHS)
def test_batches_are_bounded(pg_engine, pg_schema, make_config, fast_path):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {pg_schema}.big AS SELECT g::text AS id FROM generate_series(1, 5000) g"
        )
    config, table = table_config(make_config, f"{pg_schema}.big", fast_path, batch_size=1000)
    with open_source(config) as source:
        schema = source.describe(table)
        sizes = [b.num_rows for b in source.read_rows(table, schema, None)]
        key_sizes = [b.num_rows for b in source.read_keys(table, schema)]
    assert sum(sizes) == 5000 and max(sizes) <= 1000
    assert sum(key_sizes) == 5000 and max(key_sizes) <= 1000


@pytest.mark.parametrize("fast_path", FAST_PATHS)
def test_incremental_read_filters_on_modified(pg_engine, pg_schema, make_config, fast_path):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {pg_schema}.m (id text primary key, modifiedon timestamptz)"
        )
        conn.exec_driver_sql(
            f"INSERT INTO {pg_schema}.m VALUES ('old', '2020-01-01Z'), ('edge', '2024-01-01Z'), ('new', '2025-01-01Z')"
        )
    config, table = table_config(
        make_config, f"{pg_schema}.m", fast_path, modified_column="modifiedon"
    )
    with open_source(config) as source:
        schema = source.describe(table)
        since = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        rows = pa.Table.from_batches(list(source.read_rows(table, schema, since)), schema)
    assert sorted(rows.column("id").to_pylist()) == ["edge", "new"]


def test_rows_by_keys_in_chunks(pg_engine, pg_schema, make_config):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {pg_schema}.k AS SELECT g::text AS id, g AS n FROM generate_series(1, 2500) g"
        )
    config, table = table_config(make_config, f"{pg_schema}.k", "auto")
    with open_source(config) as source:
        schema = source.describe(table)
        wanted = pa.table({"id": [str(i) for i in range(1, 2500, 2)]})
        rows = pa.Table.from_batches(list(source.read_rows_by_keys(table, schema, wanted)), schema)
    assert rows.num_rows == 1250 and set(rows.column("id").to_pylist()) == set(
        wanted.column("id").to_pylist()
    )


def test_identifiers_are_quoted_not_pasted(pg_engine, pg_schema, make_config):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f'CREATE TABLE {pg_schema}."Mixed" ("Id" text primary key, "select" int)'
        )
        conn.exec_driver_sql(f"""INSERT INTO {pg_schema}."Mixed" VALUES ('a', 1)""")
    config, table = table_config(make_config, f"{pg_schema}.Mixed", "auto")
    table = table.model_copy(update={"primary_key": ["Id"]})
    with open_source(config) as source:
        schema = source.describe(table)
        rows = pa.Table.from_batches(list(source.read_rows(table, schema, None)), schema)
    assert rows.to_pylist() == [{"Id": "a", "select": 1}]


def test_unknown_table_and_column(pg_schema, make_config, typed_table):
    config, table = table_config(make_config, f"{pg_schema}.nope", "auto")
    with open_source(config) as source, pytest.raises(SourceSchemaError, match="does not exist"):
        source.describe(table)
    config, table = table_config(make_config, typed_table, "auto", created_column="created")
    with (
        open_source(config) as source,
        pytest.raises(SourceSchemaError, match="created_column 'created'"),
    ):
        source.describe(table)


def test_unreachable_server_is_transient(make_config):
    config = make_config(
        [{"name": "t", "source": "t", "primary_key": "id"}],
        source={
            "url": "postgresql+psycopg://postgres:hunter22@127.0.0.1:1/test",
            "connect_timeout_seconds": 2,
        },
    )
    with open_source(config) as source, pytest.raises(SourceUnavailableError) as info:
        source.describe(config.tables[0])
    assert "hunter22" not in str(info.value)


def test_count_rows(make_config, typed_table):
    config, table = table_config(make_config, typed_table, "auto")
    with open_source(config) as source:
        assert source.count_rows(table) == 2


def test_sqlite_source_reads_demo_shaped_table(tmp_path):
    from bronze_sync.config import parse_config
    from bronze_sync.demo.seeds import build_source

    url = f"sqlite:///{tmp_path}/demo.sqlite"
    counts = build_source(sa.create_engine(url), dt.date(2026, 11, 1))
    config = parse_config(
        f"""
source: {{kind: sql, url: "{url}"}}
bronze: {{path: {tmp_path}/bronze}}
tables: [{{name: donation, source: donation, primary_key: donationid, modified_column: modifiedon}}]
""",
        {},
    )
    with open_source(config) as source:
        table = config.tables[0]
        schema = source.describe(table)
        rows = pa.Table.from_batches(list(source.read_rows(table, schema, None)), schema)
    assert rows.num_rows == counts["donation"] == 4000
    assert schema.field("giftaidfactor").type == pa.decimal128(38, 18)
    assert set(rows.column("giftaidfactor").to_pylist()) <= {
        Decimal("0.25"),
        Decimal("1.25"),
        Decimal("0"),
        Decimal("0.123456789012345"),
    }


def test_block_ranges_cover_the_table():
    from bronze_sync.sources.pg_parallel import block_ranges

    assert block_ranges(100, 4) == [(None, None)]  # too small to split
    ranges = block_ranges(10_000, 4)
    assert ranges[0] == (None, 2500) and ranges[-1] == (7500, None) and len(ranges) == 4
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))


def test_parallel_block_range_reads_return_every_row_once(pg_engine, pg_schema, make_config):
    from bronze_sync.redact import Redactor
    from bronze_sync.sources import pg_parallel
    from bronze_sync.sources.sql_query import select_rows

    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {pg_schema}.p AS SELECT g::text AS id, repeat('x', 50) AS pad FROM generate_series(1, 20000) g"
        )
        conn.exec_driver_sql(f"ANALYZE {pg_schema}.p")
        pages = conn.exec_driver_sql(
            f"SELECT relpages FROM pg_class WHERE oid = '{pg_schema}.p'::regclass"
        ).scalar_one()
    config, table = table_config(make_config, f"{pg_schema}.p", "auto")
    with open_source(config) as source:
        schema = source.describe(table)
        assert source._pages(table) == pages > 100
        stmt = select_rows(table, schema, source._reflect(table), None, text_casts=True)
        ranges = [(None, pages // 3), (pages // 3, 2 * pages // 3), (2 * pages // 3, None)]
        url = sa.engine.make_url(config.source.url)
        batches = list(pg_parallel.stream_parallel(url, stmt, schema, 1000, Redactor(), ranges))
    ids = [i for b in batches for i in b.column(0).to_pylist()]
    assert len(ids) == 20000 and len(set(ids)) == 20000


def test_adbc_inlines_timestamps_so_reads_stream_through_copy():
    # A bound parameter makes ADBC run a prepared query whose whole result libpq buffers.
    table = sa.table("t", sa.column("m", sa.DateTime(timezone=True)), sa.column("k", sa.Text))
    since = dt.datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    sql, params = compile_for_copy(sa.select(table).where(table.c.m >= since))
    assert params == [] and "'2025-01-02 03:04:05.678901+00:00'" in sql


def test_adbc_keeps_text_values_bound():
    table = sa.table("t", sa.column("k", sa.Text))
    sql, params = compile_for_copy(sa.select(table).where(table.c.k == "x'); DROP TABLE t; --"))
    assert params == ["x'); DROP TABLE t; --"] and "DROP" not in sql
