"""Crash recovery, rollback and bad input on spark-written bronze tables."""

from __future__ import annotations

from concurrent import futures
from pathlib import Path

import grpc
import pyarrow.compute as pc
import pytest

from bronze_sync.errors import SparkEngineError, SparkUnavailableError
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync.testing.dataverse.tls import make_certificates
from bronze_sync_tests.cli_runner import cli_runner
from bronze_sync_tests.helpers import PgTable
from bronze_sync_tests.rollback.scenario import IDS, outage, recover, rollback, synced
from bronze_sync_tests.sync.children import assert_mirrors_source, run_child, unaudited_versions

KILLED = -9


def spark_settings(remote: str) -> dict[str, object]:
    return {"engine": "spark", "spark": {"remote": remote}}


def test_crash_after_the_merge_is_recovered_with_the_runs_own_counts(
    pg_engine, pg_schema, make_config, harness_for, sail_remote
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(f"k{i:05d}" for i in range(300))
    config = make_config(
        [account.config(max_delete_fraction=0.5, **spark_settings(sail_remote))],
        sync={"lease_seconds": 5, "lease_wait_seconds": 60},
    )
    h = harness_for(config)
    h.sync()
    ids = account.ids()
    account.insert_ids(f"n{i:05d}" for i in range(20))
    account.update(ids[:6], name="changed")
    account.delete(ids[-4:])

    crashed = run_child(config.file, "after_commit")
    assert crashed.returncode == KILLED, crashed.stderr
    version = h.delta().version()
    assert unaudited_versions(h) == [version]

    after = h.sync()
    assert after.committed is False  # the crashed run's MERGE already holds the changes
    audit = h.meta.read(SYNC_AUDIT_LOG).to_pylist()
    recovered = [r for r in audit if r["DeltaVersion"] == version and r["Recovered"]]
    data_sync = next(r for r in recovered if r["Operation"] == "DataSync")
    assert data_sync["PipelineRunId"].startswith("child-")  # the note named the run
    assert "inserted=20" in data_sync["Notes"] and "updated=6" in data_sync["Notes"]
    assert next(r for r in recovered if r["Operation"] == "DeleteDetection")["RowsDeleted"] == 4
    assert_mirrors_source(h.bronze(), account)
    assert unaudited_versions(h) == []
    staging = Path(h.store.root) / "_bronze_sync" / "spark_staging" / "account"
    assert not staging.exists() or list(staging.iterdir()) == []  # the crashed run's is gone


def test_rollback_restores_a_spark_written_table_and_spark_syncs_go_on(
    pg_engine, pg_schema, make_config, harness_for, sail_remote
):
    h = synced(pg_engine, pg_schema, make_config, harness_for, **spark_settings(sail_remote))
    h.account.update(["a01"], name="renamed")
    assert h.sync().engine == "spark"
    outage(h.account, keep=3)
    bad = h.sync(allow_mass_delete=True)
    assert (bad.engine, bad.deleted) == ("spark", 9)
    recover(h.account)

    token = rollback(h, "good").plan.token
    done = rollback(h, "good", dry_run=False, approval_token=token)
    assert done.results and all(r.success for r in done.results)
    restored = h.bronze()
    assert restored.column("name").to_pylist()[1] == "name a01"  # the checkpoint's value
    assert not pc.any(restored.column("IsDeleted")).as_py()

    after = h.sync()
    assert after.engine == "spark" and after.updated == 1 and after.deleted == 0
    assert h.bronze().column("id").to_pylist() == IDS
    assert_mirrors_source(h.bronze(), h.account)


def test_unreachable_cluster_fails_naming_the_endpoint_not_the_token(
    pg_engine, pg_schema, make_config, harness_for
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    remote = "sc://127.0.0.1:9/;token=s3cr3t-token-value"
    harness_for(make_config([account.config()])).sync()  # loaded natively before the switch
    h = harness_for(make_config([account.config(engine="spark", spark={"remote": remote})]))
    account.update(["a"], name="changed")
    before = h.bronze()
    with pytest.raises(SparkUnavailableError) as raised:
        h.sync()
    message = str(raised.value)
    assert "sc://127.0.0.1:9" in message and "s3cr3t" not in message
    assert message.count("\n") == 0
    assert h.bronze() == before


def test_cli_exit_codes_for_an_unreachable_cluster_and_a_missing_spark_block(
    pg_engine, pg_schema, make_config, capfd, monkeypatch, tmp_path
):
    run = cli_runner(capfd, monkeypatch)
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    remote = "sc://127.0.0.1:9/;token=s3cr3t-token-value"
    native = make_config([account.config()])
    assert run("sync", "--config", native.file).returncode == 0  # loaded before the switch
    config = make_config([account.config(engine="spark", spark={"remote": remote})])
    account.update(["a"], name="changed")
    failed = run("sync", "--config", config.file)
    assert failed.returncode == 1
    assert "sc://127.0.0.1:9" in failed.stdout + failed.stderr
    assert "s3cr3t" not in failed.stdout + failed.stderr

    broken = tmp_path / "no-spark.yaml"
    text = Path(config.file).read_text()
    start = text.index("  spark:")
    end = text.index("\n", text.index("remote:", start))
    broken.write_text(text[:start] + text[end + 1 :])
    missing = run("sync", "--config", str(broken))
    assert missing.returncode == 2
    assert "engine spark needs a spark block" in missing.stdout + missing.stderr


@pytest.fixture
def refusing_endpoint(tmp_path, monkeypatch):
    """A TLS gRPC server answering every Spark Connect call UNAUTHENTICATED (a refused token).

    A token makes the client speak TLS; it trusts the test CA through gRPC's roots variable.
    """
    ca, cert, key = make_certificates(tmp_path)
    monkeypatch.setenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", str(ca))

    class Refuse(grpc.GenericRpcHandler):
        def service(self, details):
            def refuse(request, context):
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid token")

            return grpc.unary_unary_rpc_method_handler(refuse)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[Refuse()])
    credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    yield f"sc://127.0.0.1:{port}/;token=wrong-token-value"
    server.stop(None)


def test_refused_token_fails_in_one_line_and_bronze_is_unchanged(
    pg_engine, pg_schema, make_config, harness_for, refusing_endpoint
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    harness_for(make_config([account.config()])).sync()  # loaded natively before the switch
    h = harness_for(make_config([account.config(**spark_settings(refusing_endpoint))]))
    account.delete(["a"])
    version = h.delta().version()
    with pytest.raises(SparkEngineError, match="refused the credentials") as raised:
        h.sync()
    assert "wrong-token" not in str(raised.value) and "\n" not in str(raised.value)
    assert refusing_endpoint.split("/;")[0] in str(raised.value)
    assert h.delta().version() == version
