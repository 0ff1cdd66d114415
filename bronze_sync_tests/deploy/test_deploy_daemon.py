"""The production processes for real: `bronze-sync daemon` and `bronze-sync webserver` on an
instance in PostgreSQL (deploy/dagster.yaml). The daemon's scheduler fires daily_sync_schedule
(a configuration with `sync.daily_cron: "* * * * *"`), the run syncs the table, and the run, its
sync batch partition and its asset checks are in PostgreSQL, served by the webserver.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from bronze_sync.defs.partitions import SYNC_BATCHES
from bronze_sync_tests.cli.processes import HANG_GUARD_SECONDS, cli_env, started_cli
from bronze_sync_tests.deploy.conftest import free_port, pg_env, server_url
from bronze_sync_tests.helpers import PgTable

pytestmark = pytest.mark.slow

RUNS_QUERY = """
{ runsOrError(filter: {pipelineName: "daily_sync"}) {
    ... on Runs { results { runId status tags { key value } } } } }
"""


def wait_for_finished_run(
    instance: dg.DagsterInstance, procs: dict[str, subprocess.Popen[str]], logs: Path
) -> dg.DagsterRun:
    """Return the first daily_sync run once it has ended; fail if a server process dies."""
    deadline = time.monotonic() + HANG_GUARD_SECONDS  # hang guard, not a timing assertion
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                err = Path(f"{logs / name}.err").read_text()[-3000:]
                raise AssertionError(f"bronze-sync {name} ended (exit {proc.returncode}): {err}")
        runs = instance.get_runs(dg.RunsFilter(job_name="daily_sync"))
        if runs and runs[-1].is_finished:
            return runs[-1]
        time.sleep(1)
    raise AssertionError(f"no daily_sync run ended; daemon log: {_tail(logs / 'daemon.err')}")


def _tail(path: Path) -> str:
    return path.read_text()[-3000:] if path.exists() else "(none)"


def graphql(port: int, query: str, proc: subprocess.Popen[str]) -> dict:
    """Return the webserver's answer to `query`, once it listens."""
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    while True:
        assert proc.poll() is None, f"the webserver ended (exit {proc.returncode})"
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.load(answer)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_daemon_schedules_the_daily_sync_into_postgresql(
    pg_engine, pg_schema, make_config, instance_db, deploy_home, tmp_path, monkeypatch
):
    table = PgTable(pg_engine, pg_schema, "account")
    table.insert_ids(["a", "b", "c"])
    config = make_config(
        [table.config()], sync={"daily_cron": "* * * * *", "retry_delay_seconds": 0}
    )
    pg = pg_env(instance_db)
    env = cli_env(DAGSTER_HOME=str(deploy_home), BRONZE_SYNC_CONFIG=str(config.file), **pg)
    port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    for name, value in pg.items():
        monkeypatch.setenv(name, value)  # the test's own instance reads the same variables

    with (
        started_cli("daemon", env=env, logs=logs / "daemon") as daemon,
        started_cli("webserver", "--port", str(port), env=env, logs=logs / "webserver") as web,
        dg.DagsterInstance.from_config(str(deploy_home)) as instance,
    ):
        run = wait_for_finished_run(instance, {"daemon": daemon, "webserver": web}, logs)
        assert run.status == dg.DagsterRunStatus.SUCCESS, _tail(logs / "daemon.err")
        served = graphql(port, RUNS_QUERY, web)
        info = graphql(port, "{ instance { info } }", web)

    # The scheduler, not a direct launch, made the run: schedule tag, a day as partition.
    key = run.tags["dagster/partition"]
    assert run.tags["dagster/schedule_name"] == "daily_sync_schedule"

    url = server_url(instance_db)
    with sa.create_engine(url).connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM runs WHERE run_id = :id"), {"id": run.run_id}
        ).scalar_one()
        partitions = conn.execute(
            sa.text("SELECT partition FROM dynamic_partitions WHERE partitions_def_name = :name"),
            {"name": SYNC_BATCHES},
        ).scalars()
        partitions = set(partitions)
        checks = conn.execute(
            sa.text(
                "SELECT asset_key, check_name, execution_status FROM asset_check_executions "
                "WHERE run_id = :id"
            ),
            {"id": run.run_id},
        ).all()
        materialized = conn.execute(
            sa.text(
                "SELECT count(*) FROM event_logs WHERE run_id = :id "
                "AND dagster_event_type = 'ASSET_MATERIALIZATION' AND partition = :key"
            ),
            {"id": run.run_id, "key": key},
        ).scalar_one()
    assert status == "SUCCESS"
    assert partitions == {key}
    assert materialized == 1
    assert checks, "no asset check evaluations were recorded"
    assert {c.execution_status for c in checks} == {"SUCCEEDED"}, checks
    # The checks are not partitioned: they belong to the run that synced the partition.
    assert {c.asset_key for c in checks} == {dg.AssetKey(["bronze", "account"]).to_string()}

    runs = served["data"]["runsOrError"]["results"]
    assert [(r["runId"], r["status"]) for r in runs] == [(run.run_id, "SUCCESS")]
    assert "Postgres" in info["data"]["instance"]["info"]


def _retry_chain(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Return the first daily_sync run and the daemon's re-executions of it, in order."""
    runs = sorted(instance.get_runs(dg.RunsFilter(job_name="daily_sync")), key=lambda r: r.run_id)
    first = [r for r in runs if "dagster/retry_number" not in r.tags]
    if not first:
        return []
    root = min(first, key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp)
    chain = [r for r in runs if r.tags.get("dagster/root_run_id") == root.run_id]
    return [root, *sorted(chain, key=lambda r: int(r.tags["dagster/retry_number"]))]


def test_daemon_re_executes_a_failed_sync_run_up_to_run_retries(
    pg_engine, pg_schema, make_config, instance_db, deploy_home, tmp_path, monkeypatch
):
    ghost = {"name": "ghost", "source": f"{pg_schema}.never_created", "primary_key": "id"}
    config = make_config(
        [ghost],
        sync={"daily_cron": "* * * * *", "retry_delay_seconds": 0, "max_retries": 0,
              "run_retries": 2},
    )  # fmt: skip
    pg = pg_env(instance_db)
    env = cli_env(DAGSTER_HOME=str(deploy_home), BRONZE_SYNC_CONFIG=str(config.file), **pg)
    logs = tmp_path / "logs"
    logs.mkdir()
    for name, value in pg.items():
        monkeypatch.setenv(name, value)

    with (
        started_cli("daemon", env=env, logs=logs / "daemon") as daemon,
        dg.DagsterInstance.from_config(str(deploy_home)) as instance,
    ):
        deadline = time.monotonic() + 2 * HANG_GUARD_SECONDS  # hang guard, not a timing check
        chain: list[dg.DagsterRun] = []
        while time.monotonic() < deadline:
            assert daemon.poll() is None, _tail(logs / "daemon.err")
            chain = _retry_chain(instance)
            # Dagster tags a failed run with its retry decision just after storing the
            # failure: a run can read as finished a moment before it carries the tag.
            decided = all("dagster/will_retry" in r.tags for r in chain)
            if len(chain) == 3 and all(r.is_finished for r in chain) and decided:
                break
            time.sleep(1)
        assert len(chain) == 3, f"{len(chain)} run(s); daemon log: {_tail(logs / 'daemon.err')}"

    root, *retries = chain
    assert [r.status for r in chain] == [dg.DagsterRunStatus.FAILURE] * 3
    assert [r.tags["dagster/retry_number"] for r in retries] == ["1", "2"]
    parents = [r.tags["dagster/parent_run_id"] for r in retries]
    assert parents == [root.run_id, retries[0].run_id]  # each retry re-executes the one before
    assert retries[-1].tags.get("dagster/will_retry") == "false"  # two retries, then stop
