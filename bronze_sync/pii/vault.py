"""The PII vault: tokenized values, encrypted with AES-256-GCM, in `metadata/PiiVault`."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bronze_sync.errors import VaultError
from bronze_sync.metadata.schemas import PII_VAULT
from bronze_sync.metadata.store import MetadataStore

NONCE_BYTES = 12
VAULT_KEYS = ["TableName", "ColumnName", "Token"]


def _cipher(vault_key: bytes) -> AESGCM:
    # The configured key is text of any length >= 32 bytes: SHA-256 makes it an AES-256 key.
    return AESGCM(hashlib.sha256(vault_key).digest())


def _context(table: str, column: str, token: str) -> bytes:
    # Bound to its row: a ciphertext copied under another token does not decrypt.
    return f"{table}\x1f{column}\x1f{token}".encode()


def seal(vault_key: bytes, table: str, column: str, token: str, value: str) -> str:
    """Return `value` encrypted for the vault (base64 of nonce + ciphertext)."""
    nonce = os.urandom(NONCE_BYTES)
    data = _cipher(vault_key).encrypt(nonce, value.encode(), _context(table, column, token))
    return base64.b64encode(nonce + data).decode()


def store_tokens(
    meta: MetadataStore, table: str, entries: Sequence[tuple[str, str, str]], vault_key: bytes
) -> None:
    """Add (column, token, value) entries the vault lacks, encrypted, in one commit."""
    if not entries:
        return
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "TableName": table,
            "ColumnName": column,
            "Token": token,
            "Ciphertext": seal(vault_key, table, column, token, value),
            "CreatedDate": now,
        }
        for column, token, value in entries
    ]
    meta.insert_new(PII_VAULT, rows, VAULT_KEYS)


def reveal_column(meta: MetadataStore, table: str, column: str, vault_key: bytes) -> dict[str, str]:
    """Return every token of a column with its clear value; VaultError if one cannot decrypt."""
    found = {}
    for row in meta.rows(PII_VAULT):
        if (row["TableName"], row["ColumnName"]) == (table, column):
            found[row["Token"]] = _open(vault_key, table, column, row["Token"], row["Ciphertext"])
    return found


def forget_column(meta: MetadataStore, table: str, column: str) -> int:
    """Delete a column's vault entries (its tokens left bronze); return how many."""
    if meta.version(PII_VAULT) is None:
        return 0
    vault = meta.open_or_create(PII_VAULT)
    # Names come from the validated config; quotes are doubled all the same.
    predicate = " AND ".join(
        f"{name} = '{value.replace(chr(39), chr(39) * 2)}'"
        for name, value in (("TableName", table), ("ColumnName", column))
    )
    return int(vault.delete(predicate).get("num_deleted_rows", 0))


def reveal(meta: MetadataStore, table: str, column: str, token: str, vault_key: bytes) -> str:
    """Return the clear value behind `token`; VaultError when unknown or not decryptable."""
    found = [
        r
        for r in meta.rows(PII_VAULT)
        if (r["TableName"], r["ColumnName"], r["Token"]) == (table, column, token)
    ]
    if not found:
        raise VaultError(f"table {table}, column {column}: token {token} is not in the vault")
    return _open(vault_key, table, column, token, found[0]["Ciphertext"])


def _open(vault_key: bytes, table: str, column: str, token: str, ciphertext: str) -> str:
    raw = base64.b64decode(ciphertext)
    try:
        clear = _cipher(vault_key).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _context(table, column, token)
        )
    except InvalidTag:
        raise VaultError(
            f"table {table}, column {column}: the vault key cannot decrypt token {token} "
            "(wrong BRONZE_PII_VAULT_KEY?)"
        ) from None
    return clear.decode()
