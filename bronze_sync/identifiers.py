"""Validation and quoting of identifiers that come from configuration or a source catalog.

Config values never reach SQL as text: SQL sources build statements with SQLAlchemy
constructs, and the only text we generate is Delta (DataFusion) predicates, whose column
names are quoted here.
"""

from __future__ import annotations

import re

from bronze_sync.errors import ConfigError

TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SOURCE_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_$#]*")
COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$#]*")
# Folders under the bronze root that bronze_sync itself uses: no bronze table may take them.
RESERVED_TABLE_NAMES = frozenset({"metadata", "history", "_bronze_sync"})
# Characters Delta/Parquet reject in column names without column mapping.
_DELTA_FORBIDDEN = set(" ,;{}()\n\t=")


def check_table_name(name: str, where: str) -> str:
    """Return `name` if it is a valid bronze table name, else raise naming `where`."""
    if not TABLE_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: {name!r} is not a valid table name (use [A-Za-z_][A-Za-z0-9_]*)"
        )
    if name.lower() in RESERVED_TABLE_NAMES:
        raise ConfigError(
            f"{where}: {name!r} is reserved (bronze_sync keeps its own folder of that name "
            "under the bronze root); choose another table name"
        )
    return name


def check_column_name(name: str, where: str) -> str:
    """Return `name` if it is a valid column name, else raise naming `where`."""
    if not COLUMN_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: {name!r} is not a valid column name (use [A-Za-z_][A-Za-z0-9_$#]*)"
        )
    return name


def split_source_name(name: str, where: str) -> tuple[str | None, str]:
    """Split `[schema.]table` into its parts, validating each."""
    parts = name.split(".")
    if len(parts) > 2 or not all(SOURCE_PART.fullmatch(p) for p in parts):
        raise ConfigError(
            f"{where}: {name!r} is not a valid source table (use [schema.]table, "
            "each part [A-Za-z_][A-Za-z0-9_$#]*)"
        )
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def delta_column_problem(name: str) -> str | None:
    """Return why `name` cannot be a Delta column name, or None when it can."""
    bad = sorted(set(name) & _DELTA_FORBIDDEN)
    if bad:
        return f"contains {''.join(bad)!r}, which Delta column names may not contain"
    if not name:
        return "is empty"
    return None


def quote_delta(name: str) -> str:
    """Quote a column name for a Delta (DataFusion SQL) predicate."""
    return '"' + name.replace('"', '""') + '"'
