"""The OData subset Dataverse queries use: $filter expressions, literals and JSON values."""

from __future__ import annotations

import datetime as dt
import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<paren>[()])|(?P<word>[A-Za-z0-9_.:+\-]+))")
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}
_DIRECT: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")


class ODataError(ValueError):
    """A query option the emulator (like Dataverse) rejects with 400."""

    def __init__(self, message: str, code: str = "0x80060888") -> None:
        super().__init__(message)
        self.code = code


class Raw(str):
    """JSON text that goes into a response body as it is (a row's cached JSON)."""

    __slots__ = ()


class UnknownProperty(ODataError):
    """A $select/$filter/$orderby names a property the entity does not have."""


@dataclass(frozen=True)
class Span:
    """The rows a date-time filter keeps: values in [low, high) (an end may be open), nulls."""

    column: str
    low: dt.datetime | None = None
    high: dt.datetime | None = None
    values: bool = True
    nulls: bool = False


class _Spanned:
    """A predicate that also says, as a `Span`, which rows it keeps (for an index lookup)."""

    __slots__ = ("predicate", "span")

    def __init__(self, predicate: Predicate, span: Span) -> None:
        self.predicate, self.span = predicate, span

    def __call__(self, row: dict[str, Any]) -> bool:
        return self.predicate(row)


def span_of(predicate: Predicate) -> Span | None:
    """Return the date-time range a filter keeps, or None when it is not one."""
    return predicate.span if isinstance(predicate, _Spanned) else None


def _both(a: Span | None, b: Span | None) -> Span | None:
    if a is None or b is None or a.column != b.column or a.nulls or b.nulls:
        return None
    lows = [v for v in (a.low, b.low) if v is not None]
    highs = [v for v in (a.high, b.high) if v is not None]
    return replace(a, low=max(lows, default=None), high=min(highs, default=None))


def _either(a: Span | None, b: Span | None) -> Span | None:
    if a is None or b is None or a.column != b.column:
        return None
    only_nulls, ranged = (a, b) if not a.values else (b, a)
    if only_nulls.values or not only_nulls.nulls:
        return None
    return replace(ranged, nulls=True)


def parse_filter(text: str, known: Callable[[str], bool]) -> Predicate:
    """Return a predicate over rows for an OData `$filter` expression."""
    tokens = _tokenize(text)
    parser = _Parser(tokens, known)
    predicate = parser.expr()
    if parser.pos != len(tokens):
        raise ODataError(f"Syntax error at position {parser.pos} in '{text}'.")
    return predicate


def _tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ODataError(f"Syntax error at position {pos} in '{text}'.")
        tokens.append(match.group(match.lastgroup or "word"))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], known: Callable[[str], bool]) -> None:
        self.tokens, self.pos, self.known = tokens, 0, known

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise ODataError("Syntax error: unexpected end of $filter.")
        self.pos += 1
        return token

    def expr(self) -> Predicate:
        left = self._and()
        while self._peek() == "or":
            self._take()
            right = self._and()
            span = _either(span_of(left), span_of(right))
            left = (lambda a, b: lambda row: a(row) or b(row))(left, right)
            left = _Spanned(left, span) if span is not None else left
        return left

    def _and(self) -> Predicate:
        left = self._unary()
        while self._peek() == "and":
            self._take()
            right = self._unary()
            span = _both(span_of(left), span_of(right))
            left = (lambda a, b: lambda row: a(row) and b(row))(left, right)
            left = _Spanned(left, span) if span is not None else left
        return left

    def _unary(self) -> Predicate:
        token = self._take()
        if token == "not":
            inner = self._unary()
            return lambda row: not inner(row)
        if token == "(":
            inner = self.expr()
            if self._take() != ")":
                raise ODataError("Syntax error: ')' expected in $filter.")
            return inner
        name, op, literal = token, self._take(), parse_literal(self._take())
        if op not in _OPS:
            raise ODataError(f"Syntax error: unknown operator '{op}' in $filter.")
        if not self.known(name):
            raise UnknownProperty(f"Could not find a property named '{name}' on type.")
        return _comparison(name, op, literal)


def _comparison(name: str, op: str, literal: Any) -> Predicate:
    """Return the predicate `row[name] op literal`."""
    # Created-date ranges and bounds filter every row of a table, so their comparisons
    # (with null, and of stored UTC datetimes) skip compare's type dispatch.
    if literal is None and op in {"eq", "ne"}:
        null = op == "eq"
        return _Spanned(
            lambda row: (row.get(name) is None) is null, Span(name, values=not null, nulls=null)
        )
    if type(literal) is not dt.datetime:
        return lambda row: compare(row.get(name), op, literal)
    direct = _DIRECT[op]

    def predicate(row: dict[str, Any]) -> bool:
        value = row.get(name)
        if type(value) is dt.datetime:
            return direct(value, literal)
        return compare(value, op, literal)

    if op == "ge":
        return _Spanned(predicate, Span(name, low=literal))
    if op == "lt":
        return _Spanned(predicate, Span(name, high=literal))
    return predicate


def parse_literal(token: str) -> Any:
    """Return the Python value of an OData literal."""
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    if token == "null":
        return None
    if token in {"true", "false"}:
        return token == "true"
    if _DATETIME.match(token):
        return dt.datetime.fromisoformat(token.replace("Z", "+00:00"))
    if _DATE.match(token):
        return dt.date.fromisoformat(token)
    if _NUMBER.match(token):
        return Decimal(token)
    return token  # an unquoted GUID


def compare(value: Any, op: str, literal: Any) -> bool:
    """Return `value op literal` with OData null semantics."""
    if value is None or literal is None:
        if op == "eq":
            return value is None and literal is None
        if op == "ne":
            return (value is None) != (literal is None)
        return False
    if isinstance(value, bool) or isinstance(literal, bool):
        value, literal = bool(value), bool(literal)
    elif isinstance(value, int | float | Decimal):
        value, literal = Decimal(str(value)), Decimal(str(literal))
    elif isinstance(value, dt.datetime) and isinstance(literal, dt.date):
        if not isinstance(literal, dt.datetime):
            literal = dt.datetime.combine(literal, dt.time(), dt.UTC)
    elif isinstance(value, str):
        value, literal = value.lower(), str(literal).lower()  # Dataverse collation: CI
    try:
        return {
            "eq": value == literal,
            "ne": value != literal,
            "gt": value > literal,
            "ge": value >= literal,
            "lt": value < literal,
            "le": value <= literal,
        }[op]
    except TypeError:
        raise ODataError(f"Cannot compare {value!r} with {literal!r}.") from None


def sort_key(value: Any) -> tuple[int, Any]:
    """Return an order key where nulls sort first (as Dataverse does ascending)."""
    if value is None:
        return (0, 0)
    if isinstance(value, str):
        return (1, value.lower())
    if isinstance(value, dt.datetime | dt.date):
        return (1, value.isoformat())
    return (1, value)


def encode_value(value: Any) -> str:
    """Return `value` as JSON text: exact decimals, ISO dates, seconds-precision UTC times."""
    if type(value) is Raw:
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        return json.dumps(value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if isinstance(value, dt.date):
        return json.dumps(value.isoformat())
    return json.dumps(value)


def encode_object(obj: dict[str, Any]) -> str:
    """Return a flat or nested JSON object, encoding leaf values with `encode_value`."""
    parts = []
    for key, value in obj.items():
        if isinstance(value, dict):
            text = encode_object(value)
        elif isinstance(value, list):
            text = (
                "["
                + ",".join(
                    encode_object(v) if isinstance(v, dict) else encode_value(v) for v in value
                )
                + "]"
            )
        else:
            text = encode_value(value)
        parts.append(f"{json.dumps(key)}:{text}")
    return "{" + ",".join(parts) + "}"
