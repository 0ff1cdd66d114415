"""Policy moves: which column goes from which policy to which, and the value rewrite they need.

bronze holds a column's values under the policy they were written with. A move rewrites
them under the new one from what bronze can still recover: clear values (no policy) and
tokens (their clear values are in the vault). Hashed and masked values cannot be undone,
so from those only `drop` is possible.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from bronze_sync.bronze.row_metadata import RECORD_HASH, hashed_columns
from bronze_sync.errors import ConfigError, VaultError
from bronze_sync.pii.policies import DROP, HASH, MASK, TOKENIZE, protect_column, protect_text
from bronze_sync.rows.record_hash import record_hashes

CLEAR = "clear"  # no policy: bronze holds the source's values


@dataclass(frozen=True)
class PolicyMove:
    """One column's policy change: `before` is what bronze's values are under now."""

    column: str
    before: str
    after: str

    def describe(self) -> str:
        """Return `column: before -> after`."""
        return f"{self.column}: {self.before} -> {self.after}"

    @property
    def rewrites(self) -> bool:
        """Return True when bronze holds the column (a column dropped before has no values)."""
        return self.before != DROP


def plan_moves(
    table: str, stored: Mapping[str, str], wanted: Mapping[str, str]
) -> list[PolicyMove]:
    """Return the moves from the `stored` policies to the `wanted` ones; refuse impossible ones."""
    moves = [
        PolicyMove(c, stored.get(c, CLEAR), wanted.get(c, CLEAR))
        for c in sorted({*stored, *wanted})
        if stored.get(c, CLEAR) != wanted.get(c, CLEAR)
    ]
    impossible = [m for m in moves if not _possible(m)]
    if impossible:
        listed = "; ".join(f"{m.describe()} ({_why(m)})" for m in impossible)
        raise ConfigError(
            f"table {table}: pii policy change cannot be migrated: {listed}. Revert the "
            "setting, or drop the column first (policy drop), or re-create the table from "
            "the source under the new policy"
        )
    return moves


def _possible(move: PolicyMove) -> bool:
    if move.before == DROP or move.after == DROP:
        return True  # a dropped column comes back like a new source column
    if move.before == CLEAR:
        return True
    return move.before == TOKENIZE and move.after in (HASH, MASK)


def _why(move: PolicyMove) -> str:
    if move.before in (HASH, MASK):
        return f"{move.before}ed values cannot be turned back into clear ones"
    return "the source's type of the column is not known to bronze"


@dataclass
class ValueRewrite:
    """Rewrite batches of bronze (or history) rows from the old policies to the new ones.

    Called from several threads at once; the tokens it makes are collected for the vault.
    """

    moves: Sequence[PolicyMove]
    key: bytes
    revealed: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # column -> tokens
    hashed_managed: tuple[str, ...] | None = None  # record_hash: columns it leaves out
    vault_key: bytes | None = None  # stores the tokens this rewrite makes
    entries: dict[tuple[str, str], str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sharing_tokens(self, managed: tuple[str, ...]) -> ValueRewrite:
        """Return this rewrite for rows with more managed columns, collecting the same tokens."""
        hashed = None if self.hashed_managed is None else (*self.hashed_managed, *managed)
        return dataclasses.replace(self, hashed_managed=hashed)

    def schema(self, schema: pa.Schema) -> pa.Schema:
        """Return `schema` after the moves (dropped columns gone, protected ones text)."""
        return self(schema.empty_table()).schema

    def __call__(self, rows: pa.Table) -> pa.Table:
        """Return `rows` with every moved column under its new policy."""
        for move in self.moves:
            index = rows.schema.get_field_index(move.column)
            if index < 0 or not move.rewrites:
                continue
            if move.after == DROP:
                rows = rows.remove_column(index)
                continue
            values = self._rewrite(move, rows.column(index))
            rows = rows.set_column(index, pa.field(move.column, pa.string()), values)
        if self.hashed_managed is not None and RECORD_HASH in rows.column_names:
            hashes = record_hashes(rows, hashed_columns(rows.column_names, self.hashed_managed))
            index = rows.schema.get_field_index(RECORD_HASH)
            rows = rows.set_column(index, rows.schema.field(index), hashes)
        return rows

    def tokens(self) -> list[tuple[str, str, str]]:
        """Return the (column, token, clear value) entries made so far, for the vault."""
        with self._lock:
            return [(c, t, v) for (c, t), v in self.entries.items()]

    def _rewrite(self, move: PolicyMove, values: pa.ChunkedArray) -> pa.Array:
        if move.before == CLEAR:
            protected, clear = protect_column(values, move.after, self.key)
        else:  # tokenize -> hash | mask: the vault holds the canonical clear text
            clear = [self._clear_of(move.column, t) for t in values.to_pylist()]
            protected = protect_text(clear, move.after, self.key)
        if move.after == TOKENIZE:
            made: dict[tuple[str, str], str] = {}
            for token, value in zip(protected.to_pylist(), clear, strict=True):
                if token is not None and value is not None:
                    made[(move.column, token)] = value
            with self._lock:
                self.entries |= made
        return protected

    def _clear_of(self, column: str, token: str | None) -> str | None:
        if token is None:
            return None
        clear = self.revealed.get(column, {}).get(token)
        if clear is None:
            raise VaultError(f"column {column}: token {token} is not in the PII vault")
        return clear
