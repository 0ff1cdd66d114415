"""`--profile` / $BRONZE_SYNC_PROFILE on the commands: the chosen profile is what runs."""

from __future__ import annotations

import dagster as dg
import pytest

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config import PROFILE_ENV
from bronze_sync.defs.jobs import MAX_RETRIES_TAG, PROFILE_TAG
from bronze_sync_tests.helpers import PgTable

pytestmark = pytest.mark.slow


@pytest.fixture
def profiled(pg_engine, pg_schema, make_config, tmp_path):
    """Return a config whose dev profile keeps bronze in its own folder, and that folder."""
    table = PgTable(pg_engine, pg_schema)
    table.insert_ids(["a", "b", "c"])
    dev_root = tmp_path / "bronze-dev"
    config = make_config(
        [table.config()],
        profiles={
            "dev": {"bronze": {"path": str(dev_root)}, "sync": {"retry_delay_seconds": 0}},
            "prod": {"defaults": {"log_retention_days": 365}},
        },
    )
    return config, dev_root


def test_sync_with_profile_writes_where_the_profile_says(run, profiled, dagster_home):
    config, dev_root = profiled
    done = run("sync", "--config", config.file, "--profile", "dev")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(profile dev)" in done.stdout
    # The step processes rebuilt the code location with the same profile: bronze is dev's.
    dev = BronzeStore.from_config(config.bronze.model_copy(update={"path": str(dev_root)}))
    assert dev.open(dev.table_uri("account")) is not None
    top = BronzeStore.from_config(config.bronze)
    assert top.open(top.table_uri("account")) is None
    with dg.DagsterInstance.get() as instance:
        run_ = instance.get_runs(dg.RunsFilter(job_name="daily_sync"), limit=1)[0]
    assert run_.tags[PROFILE_TAG] == "dev"
    assert run_.tags[MAX_RETRIES_TAG] == "0"  # in-process CLI runs are never re-executed


def test_validate_shows_the_profile_from_option_or_environment(run, profiled, monkeypatch):
    config, _ = profiled
    done = run("validate", "--config", config.file, "--profile", "prod")
    assert f"Configuration {config.file} (profile prod)" in done.stdout
    monkeypatch.setenv(PROFILE_ENV, "dev")
    assert "(profile dev)" in run("validate", "--config", config.file).stdout
    monkeypatch.delenv(PROFILE_ENV)
    assert "(no profile)" in run("validate", "--config", config.file).stdout


def test_unknown_profile_exits_2_listing_the_known_ones(run, profiled):
    config, dev_root = profiled
    done = run("sync", "--config", config.file, "--profile", "staging")
    assert done.returncode == 2
    assert "unknown profile 'staging' (profiles in the file: dev, prod)" in done.stderr
    assert not dev_root.exists()


def test_profile_for_a_file_without_profiles_exits_2(run, make_config):
    config = make_config([{"name": "a", "source": "a", "primary_key": "id"}])
    done = run("status", "--config", config.file, "--profile", "dev")
    assert done.returncode == 2
    assert "profile 'dev' was selected" in done.stderr and "no profiles: section" in done.stderr


def test_profile_with_an_unknown_key_exits_2_and_writes_nothing(
    run, pg_engine, pg_schema, make_config, tmp_path
):
    table = PgTable(pg_engine, pg_schema)
    dev_root = tmp_path / "bronze-dev"
    config = make_config(
        [table.config()],
        profiles={"dev": {"bronze": {"path": str(dev_root)}, "sync": {"max_paralel_tables": 2}}},
    )
    done = run("sync", "--config", config.file, "--profile", "dev")
    assert done.returncode == 2
    assert "(profile dev): sync.max_paralel_tables: unknown key" in done.stderr
    assert not dev_root.exists()
