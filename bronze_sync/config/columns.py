"""Validation of the column names a configuration gives (one name or a list of names)."""

from __future__ import annotations

from typing import Any

from bronze_sync.errors import ConfigError
from bronze_sync.identifiers import check_column_name


def column(value: str) -> str:
    """Return `value` if it is a valid column name, else raise ValueError (for pydantic)."""
    try:
        return check_column_name(value, "column")
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix("column: ")) from None


def as_list(value: Any) -> Any:
    """Return a single name as a one-element list (a list stays as it is)."""
    return [value] if isinstance(value, str) else value


def column_list(value: list[str], what: str = "columns") -> list[str]:
    """Return distinct valid column names, else raise ValueError naming the problem."""
    if len(set(value)) != len(value):
        raise ValueError(f"{what} repeat")
    return [column(v) for v in value]
