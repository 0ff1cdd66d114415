"""`bronze-sync audit accept-lost-versions`: an operator lets syncs go on after a log loss."""

from __future__ import annotations

from pathlib import Path

from bronze_sync_tests.helpers import PgTable


def test_accepting_lost_versions_lets_the_next_sync_run(
    pg_engine, pg_schema, make_config, harness_for, run
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a"])
    config = make_config([account.config()])
    h = harness_for(config)
    h.sync()
    account.insert_ids(["b"])
    h.sync()
    (Path(h.store.table_uri("account")) / "_delta_log" / f"{1:020d}.json").unlink()

    done = run("sync", "--config", config.file)
    assert done.returncode == 1 and "log ends at version 0" in done.stdout + done.stderr

    done = run("audit", "accept-lost-versions", "--config", config.file, "--by", "ops")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "account: versions 1..1 recorded as lost" in done.stdout

    assert run("sync", "--config", config.file).returncode == 0
    assert sorted(r["id"] for r in h.bronze().to_pylist()) == ["a", "b"]
    again = run("audit", "accept-lost-versions", "--config", config.file)
    assert again.returncode == 1 and "the log lost no version" in again.stdout
