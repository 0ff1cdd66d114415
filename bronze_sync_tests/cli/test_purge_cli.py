"""`bronze-sync purge`, `checkpoints [validate]` and `checkpoint create`: exit codes and output.

The commands run in this process through `bronze_sync.cli.main` (the entry point a shell
calls), so the Dagster jobs they launch are not paid for with a fresh interpreter each time.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from deltalake import DeltaTable

from bronze_sync.checkpoints import CheckpointType, list_checkpoints
from bronze_sync.metadata.pipeline_config import read_state
from bronze_sync_tests.helpers import PgTable, years_ago
from bronze_sync_tests.purge.test_purge_request import listing

PURGE_DAY = years_ago(5).date().isoformat()


@pytest.fixture
def h(pg_engine, pg_schema, make_config, harness_for):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids([f"old{i}" for i in range(3)], created=years_ago(7))
    account.insert_ids([f"new{i}" for i in range(7)], created=years_ago(1))
    h = harness_for(make_config([account.config()]))
    h.sync()
    return h


def test_purge_exit_codes_dry_run_and_recording(h, run):
    file = h.config.file
    future = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)).isoformat()
    before = listing(h.store.root)
    bad = run("purge", "--config", file, "--tables", "account,ghost", "--purge-date", future)
    assert bad.returncode == 2
    assert "is in the future" in bad.stderr and "unknown table 'ghost'" in bad.stderr

    dry = run(
        "purge", "--config", file, "--tables", "account", "--purge-date", PURGE_DAY, "--dry-run"
    )
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "Dry run" in dry.stdout and "30.0%" in dry.stdout
    assert listing(h.store.root) == before

    done = run(
        "purge", "--config", file, "--tables", "All", "--purge-date", PURGE_DAY, "--notes", "yearly"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Pre-purge checkpoint pre_purge_" in done.stdout and "account@v0" in done.stdout
    assert f"LastPurgeDate = {PURGE_DAY} recorded for account" in done.stdout
    assert read_state(h.meta, "account")["LastPurgeDate"].date().isoformat() == PURGE_DAY

    listed = run("checkpoints", "--config", file, "--type", "PrePurge")
    assert listed.returncode == 0
    line = next(x for x in listed.stdout.splitlines() if "pre_purge_" in x)
    assert "PrePurge" in line and "account" in line and "yes" in line


def test_manual_checkpoint_and_validation_exit_codes(h, run):
    file = h.config.file
    reserved = run("checkpoint", "create", "--config", file, "--name", "bronze_batch_x")
    assert reserved.returncode == 2 and "prefix reserved for automatic" in reserved.stderr

    made = run(
        "checkpoint", "create", "--config", file, "--name", "before-fix", "--tables", "account"
    )
    assert made.returncode == 0, made.stderr[-2000:]
    assert "Checkpoint before-fix (Manual) pins account@v0" in made.stdout
    (manual,) = list_checkpoints(h.meta, kind=CheckpointType.MANUAL)
    assert manual.table_versions == {"account": 0}

    ok = run("checkpoints", "validate", "--config", file)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "are restorable" in ok.stdout

    first = DeltaTable(h.store.table_uri("account"), version=0).file_uris()[0]
    os.remove(first.removeprefix("file://"))
    broken = run("checkpoints", "--config", file, "validate")
    assert broken.returncode == 1
    assert "can no longer be restored" in broken.stderr
    assert "before-fix" in broken.stdout and "NOT restorable" in broken.stdout
