"""Column policies: hash (HMAC-SHA256, joinable), mask (first and last two characters), drop,
tokenize (a deterministic token; the value goes encrypted to the vault)."""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa

from bronze_sync.rows.record_hash import canonical_text

HASH, MASK, DROP, TOKENIZE = "hash", "mask", "drop", "tokenize"
TOKEN_PREFIX = "tok_"
KEPT = 2  # characters a mask keeps at each end


def protected_type(policy: str, source: pa.DataType) -> pa.DataType:
    """Return the bronze type of a column under `policy` (hash and mask give text)."""
    return pa.string() if policy in (HASH, MASK, TOKENIZE) else source


def protect_column(
    values: pa.Array | pa.ChunkedArray, policy: str, key: bytes
) -> tuple[pa.Array, list[str | None]]:
    """Return a column's values under `policy` (nulls stay null) and the clear text."""
    text = canonical_text(values).to_pylist()
    return protect_text(text, policy, key), text


def protect_text(text: list[str | None], policy: str, key: bytes) -> pa.Array:
    """Return canonical clear texts under `policy` (nulls stay null)."""
    if policy == HASH:
        out = [None if v is None else _hmac(key, v) for v in text]
    elif policy == TOKENIZE:
        out = [None if v is None else token(key, v) for v in text]
    elif policy == MASK:
        out = [None if v is None else mask(v) for v in text]
    else:
        raise ValueError(f"policy {policy!r} does not keep the column")
    return pa.array(out, pa.string())


def token(key: bytes, value: str) -> str:
    """Return the deterministic token of `value` (never equal to its hash)."""
    # The prefix separates tokens from hashes of the same value under the same key.
    return TOKEN_PREFIX + _hmac(key, "tokenize\x1f" + value)[:32]


def mask(value: str) -> str:
    """Keep the first and last two characters, star the rest (all stars up to four)."""
    if len(value) <= 2 * KEPT:
        return "*" * len(value)
    return value[:KEPT] + "*" * (len(value) - 2 * KEPT) + value[-KEPT:]


def _hmac(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
