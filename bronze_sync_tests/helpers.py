"""A PostgreSQL source table the scenario tests mutate like an operational system would."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

UTC = dt.UTC
NOW = dt.datetime.now(UTC).replace(microsecond=0)


def years_ago(years: float) -> dt.datetime:
    """Return the time `years` years before the test session started."""
    return NOW - dt.timedelta(days=365.25 * years)


class PgTable:
    """`{schema}.account`-like table: id, name, amount NUMERIC(38,18), createdon, modifiedon."""

    def __init__(self, engine: sa.Engine, schema: str, name: str = "account") -> None:
        self.engine, self.schema, self.name = engine, schema, name
        self.table = sa.Table(
            name,
            sa.MetaData(schema=schema),
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("name", sa.Text),
            sa.Column("amount", sa.Numeric(38, 18)),
            sa.Column("createdon", sa.DateTime(timezone=True)),
            sa.Column("modifiedon", sa.DateTime(timezone=True)),
        )
        self.table.create(engine)

    @property
    def source(self) -> str:
        """Return the `schema.table` name for the config."""
        return f"{self.schema}.{self.name}"

    def config(self, **settings: Any) -> dict[str, Any]:
        """Return the table's config entry."""
        return {
            "name": self.name,
            "source": self.source,
            "primary_key": "id",
            "created_column": "createdon",
            "modified_column": "modifiedon",
            **settings,
        }

    def insert(self, rows: Iterable[dict[str, Any]]) -> None:
        """Insert rows; missing columns get defaults (modifiedon = now)."""
        now = dt.datetime.now(UTC)
        full = [
            {
                "name": f"name {r['id']}",
                "amount": Decimal("1.5"),
                "createdon": now,
                "modifiedon": now,
                **r,
            }
            for r in rows
        ]
        if full:
            with self.engine.begin() as conn:
                conn.execute(self.table.insert(), full)

    def insert_ids(self, ids: Iterable[str], created: dt.datetime | None = None) -> None:
        """Insert rows with the given ids."""
        extra = {"createdon": created} if created else {}
        self.insert({"id": i, **extra} for i in ids)

    def update(self, ids: Iterable[str], **values: Any) -> None:
        """Update rows, bumping modifiedon like the source would."""
        values.setdefault("modifiedon", dt.datetime.now(UTC))
        with self.engine.begin() as conn:
            conn.execute(self.table.update().where(self.table.c.id.in_(list(ids))).values(**values))

    def delete(self, ids: Iterable[str]) -> None:
        """Delete rows by id."""
        with self.engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.id.in_(list(ids))))

    def purge_before(self, cutoff: dt.datetime) -> int:
        """Delete rows created before `cutoff`; return how many."""
        with self.engine.begin() as conn:
            return conn.execute(self.table.delete().where(self.table.c.createdon < cutoff)).rowcount

    def execute(self, sql: str) -> None:
        """Run DDL/DML on the source (test set-up only)."""
        with self.engine.begin() as conn:
            conn.exec_driver_sql(sql)

    def rows(self) -> list[dict[str, Any]]:
        """Return every row, by id."""
        with self.engine.connect() as conn:
            result = conn.execute(sa.select(self.table).order_by(self.table.c.id))
            return [dict(r) for r in result.mappings()]

    def rows_by_id(self) -> dict[str, dict[str, Any]]:
        """Return every row keyed by id."""
        return {r["id"]: r for r in self.rows()}

    def ids(self) -> list[str]:
        """Return every id, sorted."""
        return [r["id"] for r in self.rows()]


def assert_bronze_invariants(
    bronze: pa.Table, key: str, active_keys: set[str], expected_flag: dict[str, str]
) -> None:
    """Assert the sync invariants: flags exclusive, counts add up, flags match the rule."""
    deleted, purged = bronze.column("IsDeleted"), bronze.column("IsPurged")
    assert not pc.any(pc.and_(deleted, purged)).as_py()
    active = bronze.filter(pc.invert(pc.or_(deleted, purged)))
    flagged = (pc.sum(deleted).as_py() or 0) + (pc.sum(purged).as_py() or 0)
    assert active.num_rows + flagged == bronze.num_rows
    assert set(active.column(key).to_pylist()) == active_keys
    for row in bronze.filter(pc.or_(deleted, purged)).to_pylist():
        assert row["SyncOperation"] == expected_flag[row[key]], row[key]
        assert (row["DeletedDate"] is not None) == row["IsDeleted"]
        assert (row["PurgedDate"] is not None) == row["IsPurged"]
