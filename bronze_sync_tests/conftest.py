"""Shared fixtures: a real PostgreSQL schema per test, bronze in a temp folder."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config import Config, parse_config
from bronze_sync.metadata import MetadataStore, RunInfo, pipeline_config
from bronze_sync.sources import open_source
from bronze_sync.sync import SyncJob, SyncResult, run_table_sync
from bronze_sync.testing.azurite import Account, Azurite, AzuriteError, running_azurite

PG_URL = os.environ.get(
    "BRONZE_SYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[sa.Engine]:
    """Return an engine on the test database; fail (never skip) when it is unreachable."""
    engine = sa.create_engine(PG_URL, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_URL} is unreachable (start it, see README): {exc}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_schema(pg_engine: sa.Engine) -> Iterator[str]:
    """Return a fresh schema in the test database, dropped afterwards."""
    name = f"bs_{uuid.uuid4().hex[:10]}"
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    yield name
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture(autouse=True)
def private_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep generated secrets (the rollback approval secret) out of the real home folders."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # the dagster_home fixture sets its own
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg_config"))
    return tmp_path / "xdg_config"


@pytest.fixture
def bronze_root(tmp_path: Path) -> Path:
    """Return an empty folder for bronze tables."""
    return tmp_path / "bronze"


ConfigFactory = Callable[..., Config]


@pytest.fixture
def make_config(bronze_root: Path, tmp_path: Path) -> ConfigFactory:
    """Return a factory of configs over the test database and the temp bronze folder."""

    def factory(tables: list[dict[str, Any]], **extra: Any) -> Config:
        raw: dict[str, Any] = {
            "source": {"kind": "sql", "url": PG_URL, **extra.pop("source", {})},
            "bronze": {"path": str(bronze_root), **extra.pop("bronze", {})},
            "sync": {"staging_path": str(tmp_path / "staging"), **extra.pop("sync", {})},
            "tables": tables,
            **extra,
        }
        path = tmp_path / f"config-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(yaml.safe_dump(raw))
        config = parse_config(path.read_text(), env=os.environ, origin=str(path))
        config._file = str(path)
        return config

    return factory


class Harness:
    """Run table syncs of one config directly through the domain API."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = BronzeStore.from_config(config.bronze)
        self.meta = MetadataStore(self.store)
        self.source = open_source(config)
        self.now: dt.datetime | None = None

    def job(self, partition: str | None = None, **kwargs: Any) -> SyncJob:
        """Return a sync job with a fresh run id."""
        clock = (lambda: self.now) if self.now else None
        settings: dict[str, Any] = {
            "staging_root": self.config.sync.staging_path,
            "memory_budget_mb": self.config.sync.memory_budget_mb,
            "diff_partitions": self.config.sync.diff_partitions,
            "lease_seconds": self.config.sync.lease_seconds,
            "lease_wait_seconds": self.config.sync.lease_wait_seconds,
            **({"clock": clock} if clock else {}),
            **kwargs,
        }
        return SyncJob(
            source=self.source,
            store=self.store,
            meta=self.meta,
            run=RunInfo(run_id=str(uuid.uuid4()), partition_key=partition),
            **settings,
        )

    def sync(self, name: str | None = None, **kwargs: Any) -> SyncResult:
        """Sync one table (the first configured by default)."""
        table = self.config.table(name) if name else self.config.tables[0]
        return run_table_sync(self.job(**kwargs), table)

    def bronze(self, name: str | None = None) -> Any:
        """Return the bronze table as a pyarrow table sorted by its key."""
        table = self.config.table(name) if name else self.config.tables[0]
        delta = self.store.open(self.store.table_uri(table.name))
        assert delta is not None
        return delta.to_pyarrow_table().sort_by([(k, "ascending") for k in table.primary_key])

    def delta(self, name: str | None = None) -> Any:
        """Return the DeltaTable (or None)."""
        table = self.config.table(name) if name else self.config.tables[0]
        return self.store.open(self.store.table_uri(table.name))

    def delta_dir(self, name: str | None = None) -> Path:
        """Return the folder of a (local) bronze table."""
        table = self.config.table(name) if name else self.config.tables[0]
        return Path(self.store.table_uri(table.name))

    def state(self, name: str | None = None) -> dict[str, Any]:
        """Return the table's PipelineConfig row (empty when it has none)."""
        table = self.config.table(name) if name else self.config.tables[0]
        return pipeline_config.read_state(self.meta, table.name) or {}

    def close(self) -> None:
        """Close the source."""
        self.source.close()


@pytest.fixture
def harness_for() -> Iterator[Callable[[Config], Harness]]:
    """Return a factory of harnesses, closed at the end of the test."""
    made: list[Harness] = []

    def factory(config: Config) -> Harness:
        made.append(Harness(config))
        return made[-1]

    yield factory
    for h in made:
        h.close()


@pytest.fixture(scope="session")
def session_dagster_home(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Return a Dagster home (telemetry off) shared by the session's in-process job runs.

    Without DAGSTER_HOME the CLI creates a fresh instance per run, which costs seconds of
    SQLite schema set-up each time.
    """
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return str(home)


@pytest.fixture
def dagster_home(session_dagster_home: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point DAGSTER_HOME at the session's Dagster home for one test."""
    monkeypatch.setenv("DAGSTER_HOME", session_dagster_home)
    return session_dagster_home


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """Return Azurite (Blob service) started once per session; fail (never skip) without it.

    `azurite.container(name=None) -> (bronze_uri, storage_options)` creates a container (a
    fresh one by default) and returns an `abfss://` URI in it with the options deltalake
    needs; AZURITE_BLOB_STORAGE_URL is set for the session. Besides the development account
    it serves `bronzesecret`, whose key is random per session (see bronze_sync_tests/storage).
    """
    try:
        with running_azurite([Account.generate("bronzesecret")]) as server:
            yield server
    except AzuriteError as exc:
        pytest.fail(f"Azurite could not start: {exc}")


# End-to-end folders: Dagster runs, CLI subprocesses, real servers, browsers, benchmarks.
# `pytest -m "not slow"` leaves them (and modules marked slow) out of the edit loop; CI runs all.
SLOW_FOLDERS = {"bench", "cli", "defs", "deploy", "ui"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of an end-to-end folder as slow."""
    root = Path(__file__).parent
    for item in items:
        parts = item.path.relative_to(root).parts
        if len(parts) > 1 and parts[0] in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)
