"""A cluster without Delta Lake: Apache Spark's own Connect server with no Delta package."""

from __future__ import annotations

from pathlib import Path

import pytest

from bronze_sync.errors import SparkEngineError
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync_tests.cli_runner import cli_runner
from bronze_sync_tests.helpers import PgTable

pytestmark = pytest.mark.slow  # a JVM starts once for the module

NO_DELTA = "has no Delta Lake support"


def spark_config(account: PgTable, remote: str) -> dict[str, object]:
    # No token: a token makes the client speak TLS, which this local server does not.
    return account.config(engine="spark", spark={"remote": remote})


def staged_runs(root: str) -> list[Path]:
    staging = Path(root) / "_bronze_sync" / "spark_staging"
    return (
        [run for table in staging.iterdir() for run in table.iterdir()] if staging.exists() else []
    )


def test_daily_sync_fails_in_one_line_naming_the_endpoint_and_bronze_is_unchanged(
    spark_without_delta_remote, pg_engine, pg_schema, make_config, harness_for
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b", "c"])
    harness_for(make_config([account.config()])).sync()  # loaded natively before the switch
    h = harness_for(make_config([spark_config(account, spark_without_delta_remote)]))
    account.update(["a"], name="changed")
    account.delete(["b"])
    before, version = h.bronze(), h.delta().version()
    with pytest.raises(SparkEngineError, match=NO_DELTA) as raised:
        h.sync()
    message = str(raised.value)
    assert message.startswith(f"account: Spark Connect endpoint {spark_without_delta_remote} ")
    assert "DATA_SOURCE_NOT_FOUND" in message  # the cluster's own reason, in its words
    assert "\n" not in message
    assert h.delta().version() == version and h.bronze() == before
    assert staged_runs(h.store.root) == []
    failed = [r for r in h.meta.read(SYNC_AUDIT_LOG).to_pylist() if r["Status"] == "Failed"]
    assert [r["ErrorMessage"] for r in failed] == [message]


def test_first_load_fails_before_extracting_and_creates_no_table(
    spark_without_delta_remote, pg_engine, pg_schema, make_config, harness_for
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    h = harness_for(make_config([spark_config(account, spark_without_delta_remote)]))
    with pytest.raises(SparkEngineError, match=NO_DELTA) as raised:
        h.sync()
    assert "(create the table)" in str(raised.value)
    assert not h.delta_dir().exists() or not any(h.delta_dir().iterdir())
    assert staged_runs(h.store.root) == []


def test_cli_exits_1_naming_the_endpoint_and_the_missing_delta(
    spark_without_delta_remote, pg_engine, pg_schema, make_config, capfd, monkeypatch
):
    run = cli_runner(capfd, monkeypatch)
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    config = make_config([spark_config(account, spark_without_delta_remote)])
    failed = run("sync", "--config", config.file)
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1
    assert spark_without_delta_remote in output and NO_DELTA in output
