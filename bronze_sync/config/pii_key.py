"""The PII keys: read from the environment and checked when the config is loaded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bronze_sync.errors import ConfigError

KEY_ENV = "BRONZE_PII_KEY"
VAULT_KEY_ENV = "BRONZE_PII_VAULT_KEY"
MIN_KEY_BYTES = 32


def pii_key(
    env: Mapping[str, str], needed_by: str, name: str = KEY_ENV, policy: str = "hash"
) -> bytes:
    """Return a PII key from the environment; raise ConfigError naming what needs it."""
    value = env.get(name)
    if not value:
        raise ConfigError(f"{needed_by}: pii {policy} needs the environment variable {name}")
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"{needed_by}: {name} is {len(key)} bytes; pii {policy} needs at least "
            f"{MIN_KEY_BYTES} (e.g. `openssl rand -hex 32`)"
        )
    return key


def policy_keys(
    env: Mapping[str, str], table: str, policies: Iterable[str]
) -> tuple[bytes, bytes | None]:
    """Return the hashing key (b"": none needed) and vault key (None) a table's policies need."""
    needed = set(policies) & {"hash", "tokenize"}
    key = pii_key(env, f"table {table}", policy=min(needed)) if needed else b""
    vault = (
        pii_key(env, f"table {table}", VAULT_KEY_ENV, "tokenize") if "tokenize" in needed else None
    )
    return key, vault
