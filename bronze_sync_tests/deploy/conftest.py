"""A fresh PostgreSQL database per test for a Dagster instance configured by deploy/dagster.yaml."""

from __future__ import annotations

import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bronze_sync_tests.cli.processes import REPO_ROOT
from bronze_sync_tests.conftest import PG_URL

DEPLOY = REPO_ROOT / "deploy"


def server_url(database: str) -> sa.URL:
    """Return the test server's URL on another database."""
    return sa.make_url(PG_URL).set(database=database)


@pytest.fixture
def instance_db(pg_engine: sa.Engine) -> Iterator[str]:
    """Return the name of a new, empty database, dropped (connections and all) afterwards."""
    name = f"bs_dagster_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def pg_env(database: str, port: int | None = None, password: str = "") -> dict[str, str]:
    """Return the DAGSTER_PG_* variables deploy/dagster.yaml reads, for the test server."""
    url = server_url(database)
    return {
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(port or url.port or 5432),
        "DAGSTER_PG_USER": url.username or "postgres",
        # The test server trusts local connections: any password is accepted and unused.
        "DAGSTER_PG_PASSWORD": password or "trust-auth-ignores-this",
        "DAGSTER_PG_DB": database,
    }


@pytest.fixture
def deploy_home(tmp_path: Path) -> Path:
    """Return a Dagster home holding deploy/dagster.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    return home


def free_port() -> int:
    """Return a TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
