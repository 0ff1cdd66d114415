"""A PostgreSQL table partitioned by an integer COBID (YYYYMMDD), as finance sources hold."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa


class PositionsTable:
    """`{schema}.positions`: position_id, cobid (integer YYYYMMDD), amount, book."""

    def __init__(self, engine: sa.Engine, schema: str, name: str = "positions") -> None:
        self.engine, self.schema, self.name = engine, schema, name
        self.table = sa.Table(
            name,
            sa.MetaData(schema=schema),
            sa.Column("position_id", sa.Integer, primary_key=True),
            sa.Column("cobid", sa.Integer, primary_key=True),
            sa.Column("amount", sa.Numeric(18, 2)),
            sa.Column("book", sa.Text),
        )
        self.table.create(engine)

    def config(self, **settings: Any) -> dict[str, Any]:
        """Return the table's config entry (kind partitioned by cobid)."""
        return {
            "name": self.name,
            "source": f"{self.schema}.{self.name}",
            "kind": "partitioned",
            "primary_key": ["position_id", "cobid"],
            "partition_column": "cobid",
            **settings,
        }

    def add_days(self, cobids: Iterable[int], positions: int = 3) -> None:
        """Insert `positions` rows for each COBID."""
        rows = [
            {"position_id": p, "cobid": c, "amount": p * 10, "book": "original"}
            for c in cobids
            for p in range(1, positions + 1)
        ]
        with self.engine.begin() as conn:
            conn.execute(self.table.insert(), rows)

    def restate(self, cobid: int, book: str) -> None:
        """Change every row of one COBID (a restated day)."""
        with self.engine.begin() as conn:
            conn.execute(self.table.update().where(self.table.c.cobid == cobid).values(book=book))

    def execute_delete(self, cobid: int, position_id: int) -> None:
        """Delete one position of one COBID from the source."""
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.cobid == cobid, t.c.position_id == position_id))

    def books(self) -> dict[int, set[str]]:
        """Return the books the source holds per COBID."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(self.table.c.cobid, self.table.c.book)).all()
        found: dict[int, set[str]] = {}
        for cobid, book in rows:
            found.setdefault(cobid, set()).add(book)
        return found
