"""The table kinds' SELECT statements and SqlSource methods, run on PostgreSQL and SQLite.

Identifiers are mixed case (`Positions.COBID`, as SQL Server sources spell them) so every
dialect has to quote them. The SqlSource methods run on PostgreSQL through both fetch paths
(ADBC and SQLAlchemy) and on SQLite. test_sql_kinds_tsql.py compiles them for SQL Server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from bronze_sync.sources import open_source
from bronze_sync.sources.sql_kinds import (
    fingerprint_statement,
    select_partition_rows,
    select_partition_values,
    select_scd2_window,
)
from bronze_sync_tests.conftest import PG_URL

NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
SINCE = NOW - 10 * DAY

POSITIONS = {
    "name": "positions",
    "kind": "partitioned",
    "primary_key": ["PositionId", "COBID"],
    "partition_column": "COBID",
}
HISTORY = {
    "name": "customer_history",
    "kind": "scd2",
    "primary_key": ["CustomerId", "LastModified"],
    "business_key": "CustomerId",
    "modified_column": "LastModified",
    "latest_column": "IsLatest",
}
CURRENCY = {"name": "currency", "kind": "static", "primary_key": "CurrencyCode"}

POSITION_ROWS = [  # (PositionId, COBID, Qty)
    (1, 20260103, Decimal("1.5")),
    (2, 20260101, Decimal("2.25")),
    (3, 20260103, Decimal("-3")),
    (4, 20260102, Decimal("4")),
]
# (CustomerId, LastModified, IsLatest, Name) and whether the window since SINCE holds it.
VERSIONS = [
    ((1, NOW - 40 * DAY, False, "c1 v1"), False),  # old and superseded
    ((1, NOW - 5 * DAY, False, "c1 v2"), True),  # recent, superseded
    ((1, NOW - DAY, True, "c1 v3"), True),
    ((2, NOW - 60 * DAY, True, "c2 v1"), True),  # old but latest
    ((3, SINCE, False, "c3 v1"), True),  # exactly at the window's start
    ((3, NOW - 2 * DAY, True, "c3 v2"), True),
]
CURRENCIES = [("CHF", "Franc"), ("EUR", "Euro"), ("USD", "Dollar"), ("XXX", None)]


@dataclass
class Database:
    """A source database with the three kinds' tables (mixed-case names)."""

    engine: sa.Engine
    url: str
    schema: str | None

    def source(self, name: str) -> str:
        """Return the config's `source` of table `name`."""
        return f"{self.schema}.{name}" if self.schema else name

    def config(self, make_config, fast_path: str = "off") -> Any:
        """Return a config of the three tables over this database."""
        tables = [
            {**POSITIONS, "source": self.source("Positions")},
            {**HISTORY, "source": self.source("CustomerHistory")},
            {**CURRENCY, "source": self.source("Currency")},
        ]
        return make_config(tables, source={"url": self.url, "fast_path": fast_path})

    def types(self, name: str) -> dict[str, Any]:
        """Return the catalog types of table `name` (what the source reflects)."""
        columns = sa.inspect(self.engine).get_columns(name, schema=self.schema)
        return {c["name"]: c["type"] for c in columns}

    def rows(self, stmt: sa.Select[Any]) -> list[tuple[Any, ...]]:
        """Run `stmt` and return its rows as tuples."""
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(stmt)]


def create_tables(engine: sa.Engine, schema: str | None) -> dict[str, sa.Table]:
    """Create and fill Positions, CustomerHistory and Currency; return them."""
    meta = sa.MetaData(schema=schema)
    tables = {
        # No primary key constraint: the statements must skip a NULL partition value.
        "Positions": sa.Table(
            "Positions",
            meta,
            sa.Column("PositionId", sa.Integer),
            sa.Column("COBID", sa.Integer),
            sa.Column("Qty", sa.Numeric(18, 4)),
        ),
        "CustomerHistory": sa.Table(
            "CustomerHistory",
            meta,
            sa.Column("CustomerId", sa.Integer, primary_key=True),
            sa.Column("LastModified", sa.DateTime(timezone=True), primary_key=True),
            sa.Column("IsLatest", sa.Boolean),
            sa.Column("Name", sa.Text),
        ),
        "Currency": sa.Table(
            "Currency",
            meta,
            sa.Column("CurrencyCode", sa.Text, primary_key=True),
            sa.Column("Name", sa.Text),
        ),
    }
    meta.create_all(engine)
    positions = [dict(zip(("PositionId", "COBID", "Qty"), r, strict=True)) for r in POSITION_ROWS]
    versions = [
        dict(zip(("CustomerId", "LastModified", "IsLatest", "Name"), v, strict=True))
        for v, _ in VERSIONS
    ]
    with engine.begin() as conn:
        conn.execute(
            tables["Positions"].insert(),
            [*positions, {"PositionId": 9, "COBID": None, "Qty": None}],
        )
        conn.execute(tables["CustomerHistory"].insert(), versions)
        conn.execute(tables["Currency"].insert(), currencies(CURRENCIES))
    return tables


def currencies(rows: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Return Currency rows as dicts."""
    return [{"CurrencyCode": c, "Name": n} for c, n in rows]


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, pg_engine, pg_schema, tmp_path) -> Iterator[Database]:
    """Return a PostgreSQL schema or a SQLite file holding the kinds' tables."""
    if request.param == "postgresql":
        create_tables(pg_engine, pg_schema)
        yield Database(pg_engine, PG_URL, pg_schema)
        return
    url = f"sqlite:///{tmp_path / 'source.db'}"
    engine = sa.create_engine(url)
    create_tables(engine, None)
    yield Database(engine, url, None)
    engine.dispose()


def expected_positions(cobids: set[int]) -> set[tuple[int, int, Decimal]]:
    """Return the Positions rows of the given COBIDs."""
    return {r for r in POSITION_ROWS if r[1] in cobids}


# ---- the statements, run -------------------------------------------------------------------
def test_partition_values_are_distinct_ascending_and_skip_null(database, make_config):
    table = database.config(make_config).table("positions")
    types = database.types("Positions")

    assert database.rows(select_partition_values(table, types)) == [
        (20260101,),
        (20260102,),
        (20260103,),
    ]
    above = select_partition_values(table, types, above=20260101)
    assert database.rows(above) == [(20260102,), (20260103,)]
    assert database.rows(select_partition_values(table, types, above=20260103)) == []


def test_partition_rows_are_exactly_those_of_the_chosen_values(database, make_config):
    config = database.config(make_config)
    table = config.table("positions")
    with open_source(config) as source:
        schema = source.describe(table)
    stmt = select_partition_rows(table, schema, database.types("Positions"), [20260101, 20260103])

    rows = {(i, c, Decimal(q)) for i, c, q in database.rows(stmt)}

    assert rows == expected_positions({20260101, 20260103})
    missing = select_partition_rows(table, schema, database.types("Positions"), [20991231])
    assert database.rows(missing) == []


def test_scd2_window_holds_recent_versions_and_every_latest_one(database, make_config):
    config = database.config(make_config)
    table = config.table("customer_history")
    with open_source(config) as source:
        schema = source.describe(table)
    stmt = select_scd2_window(table, schema, database.types("CustomerHistory"), SINCE)

    names = {row[schema.names.index("Name")] for row in database.rows(stmt)}

    assert names == {v[3] for v, inside in VERSIONS if inside}


def test_fingerprint_follows_content_not_row_order_on_postgresql(pg_engine, pg_schema, make_config):
    tables = create_tables(pg_engine, pg_schema)
    database = Database(pg_engine, PG_URL, pg_schema)
    table = database.config(make_config).table("currency")
    schema = pa.schema([("CurrencyCode", pa.string()), ("Name", pa.string())])
    stmt = fingerprint_statement(table, schema, "postgresql")
    assert stmt is not None
    currency = tables["Currency"]

    def fingerprint(*changes: sa.Executable) -> tuple[Any, ...]:
        with pg_engine.begin() as conn:
            for change in changes:
                conn.execute(change)
        return database.rows(stmt)[0]

    first = fingerprint()
    reordered = fingerprint(
        currency.delete(), currency.insert().values(currencies(CURRENCIES[::-1]))
    )
    one_value = fingerprint(
        currency.update().where(currency.c.CurrencyCode == "EUR").values(Name="Eur")
    )
    to_null = fingerprint(
        currency.update().where(currency.c.CurrencyCode == "EUR").values(Name=None)
    )

    assert first[0] == 4 and len(first[1]) == 32  # row count, md5 hex digest
    assert reordered == first
    assert one_value[0] == 4 and one_value != first
    assert len({first, one_value, to_null}) == 3


def test_sqlite_has_no_database_side_fingerprint(make_config):
    config = make_config([{**CURRENCY, "source": "Currency"}], source={"url": "sqlite://"})
    schema = pa.schema([("CurrencyCode", pa.string()), ("Name", pa.string())])
    assert fingerprint_statement(config.tables[0], schema, "sqlite") is None


# ---- the SqlSource methods -----------------------------------------------------------------
SOURCES = ["postgresql-auto", "postgresql-off", "sqlite"]


@pytest.fixture(params=SOURCES)
def kinds_source(request, pg_engine, pg_schema, tmp_path, make_config):
    """Yield (database, config, open source) on each fetch path."""
    backend, _, fast_path = request.param.partition("-")
    if backend == "postgresql":
        tables = create_tables(pg_engine, pg_schema)
        database = Database(pg_engine, PG_URL, pg_schema)
    else:
        url = f"sqlite:///{tmp_path / 'source.db'}"
        database = Database(sa.create_engine(url), url, None)
        tables = create_tables(database.engine, None)
    config = database.config(make_config, fast_path or "auto")
    with open_source(config) as source:
        yield database, config, source, tables
    if database.schema is None:
        database.engine.dispose()


def read(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> pa.Table:
    """Return the batches of a source read as one table."""
    return pa.Table.from_batches(list(batches), schema=schema)


def test_source_lists_partition_values_and_reads_their_rows(kinds_source):
    _, config, source, _ = kinds_source
    table = config.table("positions")
    schema = source.describe(table)

    assert source.partition_values(table) == [20260101, 20260102, 20260103]
    assert source.partition_values(table, above=20260102) == [20260103]
    # More values than one IN list holds: read a chunk of values per query.
    values = [20260103, *range(20270000, 20271500), 20260101]
    rows = read(source.read_partitions(table, schema, values), schema)

    assert rows.schema.field("COBID").type == pa.int32()
    assert rows.schema.field("Qty").type == pa.decimal128(18, 4)
    got = {(r["PositionId"], r["COBID"], r["Qty"]) for r in rows.to_pylist()}
    assert got == expected_positions({20260101, 20260103})


def test_source_reads_the_scd2_window_with_utc_times(kinds_source):
    _, config, source, _ = kinds_source
    table = config.table("customer_history")
    schema = source.describe(table)

    rows = read(source.read_versions(table, schema, SINCE), schema).to_pylist()

    got = {(r["CustomerId"], r["LastModified"], r["IsLatest"], r["Name"]) for r in rows}
    assert got == {v for v, inside in VERSIONS if inside}
    assert all(r["LastModified"].tzinfo is not None for r in rows)


def test_source_fingerprint_is_computed_by_postgresql_only(kinds_source):
    database, config, source, tables = kinds_source
    table = config.table("currency")
    schema = source.describe(table)
    currency = tables["Currency"]

    first = source.fingerprint(table, schema)
    with database.engine.begin() as conn:
        conn.execute(currency.update().where(currency.c.CurrencyCode == "USD").values(Name="$"))
    changed = source.fingerprint(table, schema)

    if database.schema is None:  # SQLite: the static kind hashes a full read instead
        assert first is None and changed is None
    else:
        assert first is not None and first.startswith("postgresql:4:")
        assert changed is not None and changed.startswith("postgresql:4:")
        assert changed != first


@pytest.mark.parametrize("backend", SOURCES)
def test_date_partition_values_come_back_as_dates(
    backend, pg_engine, pg_schema, tmp_path, make_config
):
    name, fast_path = backend.split("-") if "-" in backend else (backend, "auto")
    if name == "postgresql":
        engine, url, schema = pg_engine, PG_URL, pg_schema
    else:
        url, schema = f"sqlite:///{tmp_path / 'dates.db'}", None
        engine = sa.create_engine(url)
    balances = sa.Table(
        "DailyBalances",
        sa.MetaData(schema=schema),
        sa.Column("Account", sa.Text, primary_key=True),
        sa.Column("BusinessDate", sa.Date, primary_key=True),
        sa.Column("Balance", sa.Numeric(18, 2)),
    )
    balances.create(engine)
    days = [dt.date(2026, 1, d) for d in (30, 31)] + [dt.date(2026, 2, 1)]
    with engine.begin() as conn:
        conn.execute(
            balances.insert(),
            [
                {"Account": "A", "BusinessDate": d, "Balance": Decimal(i)}
                for i, d in enumerate(days)
            ],
        )
    source_name = f"{schema}.DailyBalances" if schema else "DailyBalances"
    entry = {
        "name": "balances",
        "source": source_name,
        "kind": "partitioned",
        "primary_key": ["Account", "BusinessDate"],
        "partition_column": "BusinessDate",
    }
    config = make_config([entry], source={"url": url, "fast_path": fast_path})
    table = config.tables[0]
    with open_source(config) as source:
        schema_read = source.describe(table)
        values = source.partition_values(table)
        above = source.partition_values(table, above=days[0])
        rows = read(source.read_partitions(table, schema_read, days[1:]), schema_read)

    if engine is not pg_engine:
        engine.dispose()
    assert values == days and above == days[1:]
    assert sorted(rows.column("BusinessDate").to_pylist()) == days[1:]
    assert sorted(rows.column("Balance").to_pylist()) == [Decimal(1), Decimal(2)]
