"""Where a Dagster instance keeps its runs when that is PostgreSQL, and whether it answers.

`bronze-sync webserver` and `bronze-sync daemon` check it before starting Dagster: an
unreachable database then fails in one line naming host, port and database (never the
password) instead of a long traceback, or a webserver that starts and serves errors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
import yaml
from psycopg.conninfo import make_conninfo

from bronze_sync.errors import BronzeSyncError, ConfigError
from bronze_sync.redact import Redactor

CONNECT_TIMEOUT_SECONDS = 5


class InstanceUnreachableError(BronzeSyncError):
    """The instance's PostgreSQL database cannot be reached (down, wrong host, refused)."""


@dataclass(frozen=True)
class PgTarget:
    """The PostgreSQL database an instance stores runs, event logs and schedules in."""

    host: str
    port: int
    database: str
    user: str
    password: str = field(default="", repr=False)
    params: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """Return host:port, database and user: what an error may show (no password)."""
        return f"{self.host}:{self.port}, database {self.database}, user {self.user}"


def instance_postgres(home: Path) -> PgTarget | None:
    """Return the PostgreSQL storage of the instance in `home` (None: it stores elsewhere)."""
    settings = home / "dagster.yaml"
    if not settings.exists():
        return None
    try:
        raw = yaml.safe_load(settings.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{settings}: not valid YAML ({exc})") from None
    storage = raw.get("storage") if isinstance(raw, dict) else None
    postgres = storage.get("postgres") if isinstance(storage, dict) else None
    if not isinstance(postgres, dict):
        return None
    where = f"{settings}: storage.postgres"
    if postgres.get("postgres_url"):
        return _from_url(_resolve(postgres["postgres_url"], f"{where}.postgres_url"), where)
    db = postgres.get("postgres_db")
    if not isinstance(db, dict):
        raise ConfigError(f"{where}: give postgres_url or postgres_db")
    values = {key: _resolve(value, f"{where}.postgres_db.{key}") for key, value in db.items()}
    port = str(values.get("port") or 5432)
    if not port.isdigit():
        raise ConfigError(f"{where}.postgres_db.port: {port!r} is not a port number")
    return PgTarget(
        host=str(values.get("hostname") or ""),
        port=int(port),
        database=str(values.get("db_name") or ""),
        user=str(values.get("username") or ""),
        password=str(values.get("password") or ""),
        params={str(k): str(v) for k, v in (values.get("params") or {}).items()},
    )


def check_reachable(target: PgTarget, timeout_seconds: int = CONNECT_TIMEOUT_SECONDS) -> None:
    """Connect to `target` once; raise InstanceUnreachableError (no password) when it fails."""
    redact = Redactor([target.password])
    settings: dict[str, Any] = {
        **target.params,  # sslmode and the like, as dagster-postgres passes them
        "host": target.host,
        "port": target.port,
        "dbname": target.database,
        "user": target.user,
        "connect_timeout": timeout_seconds,
    }
    if target.password:
        settings["password"] = target.password
    try:
        with psycopg.connect(make_conninfo("", **settings)) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        reason = _reason(redact(str(exc)))
        raise InstanceUnreachableError(
            f"cannot reach the Dagster instance's PostgreSQL at {target.describe()}: {reason}"
        ) from None


def _reason(message: str) -> str:
    # libpq repeats "connection to server at ... failed:" per address; the cause is its tail.
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return "connection failed"
    return lines[0].rsplit("failed: ", 1)[-1]


def _resolve(value: Any, where: str) -> Any:
    """Return a setting's value, reading Dagster's `{env: NAME}` form from the environment."""
    if isinstance(value, dict) and set(value) == {"env"}:
        name = str(value["env"])
        if name not in os.environ:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return os.environ[name]
    return value


def _from_url(url: str, where: str) -> PgTarget:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        # The URL may hold the password: name the setting, not the value.
        raise ConfigError(f"{where}.postgres_url: not a database URL") from None
    return PgTarget(
        host=parsed.host or "",
        port=parsed.port or 5432,
        database=parsed.database or "",
        user=parsed.username or "",
        password=parsed.password or "",
        params={str(k): str(v) for k, v in parsed.query.items()},
    )
