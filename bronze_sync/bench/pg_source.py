"""The benchmark's PostgreSQL source table: generated server-side, changed like a daily batch."""

# The SQL below is composed from this module's constants and integers only, never from
# configuration, so the string-built statements carry no injection risk.
# ruff: noqa: S608

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

SCHEMA = "bronze_sync_bench"
TEMPLATE = "template"

# 12 columns: uuid-like text key, names, NUMERIC(19,4), NUMERIC(38,18), ints, timestamps, status.
_COLUMNS = """
    id text PRIMARY KEY,
    first_name text,
    last_name text,
    city text,
    amount numeric(19,4),
    precise numeric(38,18),
    quantity integer,
    score bigint,
    version integer,
    status_code integer,
    created_at timestamptz,
    modified_at timestamptz
"""


def _row_select(created: str, modified: str) -> str:
    """Return the SELECT list generating row number `g` (deterministic values)."""
    return f"""
    md5('bench' || g)::uuid::text,
    'first' || mod(g, 9973),
    'last' || mod(g, 7919),
    (ARRAY['Leeds','Utrecht','Lyon','Cork','Ghent'])[1 + mod(g, 5)],
    round(mod(g, 100000) * 1.2345, 4),
    mod(g, 1000) + 0.123456789012345678,
    mod(g, 500),
    g::bigint * 7,
    1,
    mod(g, 3),
    {created},
    {modified}
"""


_HISTORIC = _row_select(
    "timestamptz '2019-01-01' + mod(g, 2500) * interval '1 day'"
    " + mod(g, 86400) * interval '1 second'",
    "timestamptz '2025-01-01' + mod(g, 300) * interval '1 day'",
)
_TODAY = _row_select("now()", "now()")


@dataclass(frozen=True)
class DailyChanges:
    """How many rows one simulated day changed."""

    updated: int
    inserted: int
    deleted: int


def table_name(tool: str) -> str:
    """Return the source table a tool syncs from (`bronze_sync[spark]`: src_bronze_sync_spark)."""
    return f"src_{slug(tool)}"


def slug(tool: str) -> str:
    """Return a tool's name as a plain identifier (for table and folder names)."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", tool).strip("_")


def build_template(engine: sa.Engine, rows: int) -> None:
    """Create (or reuse, if it has `rows` rows) the generated template table."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        exists = conn.exec_driver_sql(
            "SELECT to_regclass(%(name)s) IS NOT NULL", {"name": f"{SCHEMA}.{TEMPLATE}"}
        ).scalar_one()
        if exists:
            count = conn.exec_driver_sql(f"SELECT count(*) FROM {SCHEMA}.{TEMPLATE}").scalar_one()
            if count == rows:
                return
            conn.exec_driver_sql(f"DROP TABLE {SCHEMA}.{TEMPLATE}")
        conn.exec_driver_sql(f"CREATE TABLE {SCHEMA}.{TEMPLATE} ({_COLUMNS})")
        generated = f"SELECT {_HISTORIC} FROM generate_series(1, {int(rows)}) g"
        conn.exec_driver_sql(f"INSERT INTO {SCHEMA}.{TEMPLATE} {generated}")
        conn.exec_driver_sql(f"ANALYZE {SCHEMA}.{TEMPLATE}")


def fresh_copy(engine: sa.Engine, tool: str) -> str:
    """Replace the tool's source table with a copy of the template; return `schema.table`."""
    name = table_name(tool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SCHEMA}.{name}")
        conn.exec_driver_sql(f"CREATE TABLE {SCHEMA}.{name} ({_COLUMNS})")
        conn.exec_driver_sql(f"INSERT INTO {SCHEMA}.{name} SELECT * FROM {SCHEMA}.{TEMPLATE}")
        conn.exec_driver_sql(f"CREATE INDEX ON {SCHEMA}.{name} (modified_at)")
        conn.exec_driver_sql(f"ANALYZE {SCHEMA}.{name}")
    return f"{SCHEMA}.{name}"


def apply_daily_changes(engine: sa.Engine, tool: str, rows: int) -> DailyChanges:
    """Update 1 %, insert 0.1 % and delete 0.1 % of the rows (deterministic, spread evenly)."""
    name = f"{SCHEMA}.{table_name(tool)}"
    with engine.begin() as conn:
        updated = conn.exec_driver_sql(
            f"UPDATE {name} SET amount = amount + 1, version = version + 1, status_code = 9, "
            "modified_at = now() WHERE mod(('x' || substr(id, 1, 7))::bit(28)::int, 100) = 7"
        ).rowcount
        deleted = conn.exec_driver_sql(
            f"DELETE FROM {name} WHERE mod(('x' || substr(id, 1, 7))::bit(28)::int, 1000) = 3"
        ).rowcount
        first, last = rows + 1, rows + max(1, rows // 1000)
        inserted = conn.exec_driver_sql(
            f"INSERT INTO {name} SELECT {_TODAY} FROM generate_series({first}, {last}) g"
        ).rowcount
    return DailyChanges(updated=updated, inserted=inserted, deleted=deleted)


# Created dates span 2019-01-01 + 0..2499 days; the newest 10 % of that range starts here.
RECENT_FROM = "timestamptz '2019-01-01' + 2250 * interval '1 day'"
_BUCKET = "('x' || substr(id, 1, 7))::bit(28)::int"


def apply_recent_changes(engine: sa.Engine, tool: str, rows: int) -> DailyChanges:
    """Change like a CRM day: 90 % of updates and every delete hit the newest 10 % of rows.

    1 % of the rows are updated (0.9 % among those created in the newest tenth of the
    created-date range, 0.1 % elsewhere), 0.1 % deleted (all among the newest tenth) and
    0.1 % inserted (created now). No deleted row was updated first (disjoint buckets).
    """
    name = f"{SCHEMA}.{table_name(tool)}"
    change = "amount = amount + 2, version = version + 1, status_code = 8, modified_at = now()"
    with engine.begin() as conn:
        recent = conn.exec_driver_sql(
            f"UPDATE {name} SET {change} WHERE created_at >= {RECENT_FROM} "
            f"AND mod({_BUCKET}, 1000) < 90"
        ).rowcount
        older = conn.exec_driver_sql(
            f"UPDATE {name} SET {change} WHERE created_at < {RECENT_FROM} "
            f"AND mod({_BUCKET}, 9000) < 10"
        ).rowcount
        deleted = conn.exec_driver_sql(
            f"DELETE FROM {name} WHERE created_at >= {RECENT_FROM} AND mod({_BUCKET}, 100) = 95"
        ).rowcount
        first, last = rows * 2 + 1, rows * 2 + max(1, rows // 1000)
        inserted = conn.exec_driver_sql(
            f"INSERT INTO {name} SELECT {_TODAY} FROM generate_series({first}, {last}) g"
        ).rowcount
    return DailyChanges(updated=recent + older, inserted=inserted, deleted=deleted)


def settle(engine: sa.Engine) -> bool:
    """Flush the server's dirty pages (CHECKPOINT); return False when not allowed to."""
    # The day's changes (and the reads after them) leave dirty pages that the checkpointer
    # would otherwise write out during the next timed phase, whichever tool's it is.
    try:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("CHECKPOINT")
    except sa.exc.DBAPIError:
        return False
    return True


def drop_copy(engine: sa.Engine, tool: str) -> None:
    """Drop a tool's source table."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SCHEMA}.{table_name(tool)}")
