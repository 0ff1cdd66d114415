"""PostgreSQL source tables of the three table kinds, changed like the systems that own them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

UTC = dt.UTC


class SourceTable:
    """A real PostgreSQL table in the test's schema, with a config entry for bronze_sync."""

    def __init__(self, engine: sa.Engine, schema: str, table: sa.Table) -> None:
        self.engine, self.schema, self.table = engine, schema, table
        table.create(engine)

    @property
    def source(self) -> str:
        """Return `schema.table` for the config."""
        return f"{self.schema}.{self.table.name}"

    def insert(self, rows: Iterable[dict[str, Any]]) -> None:
        """Insert rows."""
        rows = list(rows)
        if rows:
            with self.engine.begin() as conn:
                conn.execute(self.table.insert(), rows)

    def run(self, statement: Any) -> int:
        """Execute a SQLAlchemy statement; return the affected row count."""
        with self.engine.begin() as conn:
            return conn.execute(statement).rowcount

    def rows(self) -> list[dict[str, Any]]:
        """Return every row, ordered by the primary key."""
        order = list(self.table.primary_key.columns)
        with self.engine.connect() as conn:
            return [
                dict(r) for r in conn.execute(sa.select(self.table).order_by(*order)).mappings()
            ]


def positions(engine: sa.Engine, schema: str) -> SourceTable:
    """Return `positions(id, cobid, qty)`, a daily COBID-sliced table (YYYYMMDD integers)."""
    table = sa.Table(
        "positions",
        sa.MetaData(schema=schema),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cobid", sa.Integer, primary_key=True),
        sa.Column("qty", sa.Numeric(18, 2)),
    )
    return SourceTable(engine, schema, table)


def position_rows(cobid: int, ids: Iterable[int], qty: str = "1.00") -> list[dict[str, Any]]:
    """Return rows of one COBID slice."""
    return [{"id": i, "cobid": cobid, "qty": Decimal(qty)} for i in ids]


def customer_history(engine: sa.Engine, schema: str) -> SourceTable:
    """Return `customer_history(customerid, lastmodified, islatest, name)`, an SCD2 table."""
    table = sa.Table(
        "customer_history",
        sa.MetaData(schema=schema),
        sa.Column("customerid", sa.Integer, primary_key=True),
        sa.Column("lastmodified", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("islatest", sa.Boolean),
        sa.Column("name", sa.Text),
    )
    return SourceTable(engine, schema, table)


def scd2_entry(history: SourceTable, **extra: Any) -> dict[str, Any]:
    """Return the config entry of `customer_history` as an scd2 table (30-day first window)."""
    return {
        "name": "customer_history",
        "source": history.source,
        "kind": "scd2",
        "primary_key": ["customerid", "lastmodified"],
        "business_key": "customerid",
        "modified_column": "lastmodified",
        "latest_column": "islatest",
        "initial_load_days": 30,
        **extra,
    }


def new_version(history: SourceTable, customer: int, name: str, at: dt.datetime) -> None:
    """Add a version the way SCD2 sources do: clear the old latest flag, insert the new one."""
    t = history.table
    with history.engine.begin() as conn:
        conn.execute(
            t.update().where(t.c.customerid == customer, t.c.islatest).values(islatest=False)
        )
        conn.execute(
            t.insert(),
            [{"customerid": customer, "lastmodified": at, "islatest": True, "name": name}],
        )


def currency(engine: sa.Engine, schema: str) -> SourceTable:
    """Return `currency(code, name, decimals)`, a small static reference table."""
    table = sa.Table(
        "currency",
        sa.MetaData(schema=schema),
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("decimals", sa.Integer),
    )
    return SourceTable(engine, schema, table)


def days_ago(days: float) -> dt.datetime:
    """Return a UTC time `days` before now, to the microsecond PostgreSQL keeps."""
    return (dt.datetime.now(UTC) - dt.timedelta(days=days)).replace(microsecond=0)
