"""`bronze-sync checkpoint create --keep-forever|--retain-days` and `checkpoint retire`."""

from __future__ import annotations

import pytest

from bronze_sync.checkpoints import find_checkpoint
from bronze_sync.checkpoints.lifecycle import RETIRED
from bronze_sync_tests.helpers import PgTable


@pytest.fixture
def h(pg_engine, pg_schema, make_config, harness_for):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    h = harness_for(make_config([account.config()]))
    h.sync()
    return h


def written(h):
    return [len(h.meta.rows("CheckpointHistory")), len(h.meta.rows("SyncAuditLog"))]


def test_keep_forever_checkpoint_is_listed_permanent_until_retired(h, run):
    file = h.config.file
    made = run("checkpoint", "create", "--config", file, "--name", "audit-2026", "--keep-forever")
    assert made.returncode == 0, made.stderr[-2000:]
    assert "kept until retired (permanent)" in made.stdout
    listed = run("checkpoints", "--config", file)
    line = next(x for x in listed.stdout.splitlines() if "audit-2026" in x)
    assert "never" in line

    again = run("checkpoint", "create", "--config", file, "--name", "audit-2026")
    assert again.returncode == 2 and "is permanent" in again.stderr

    done = run(
        "checkpoint", "retire", "audit-2026", "--config", file, "--reason", "audit closed",
        "--by", "ops-lead",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "retired by ops-lead" in done.stdout
    checkpoint = find_checkpoint(h.meta, "audit-2026")
    assert checkpoint is not None and not checkpoint.is_active
    (audit,) = [r for r in h.meta.rows("SyncAuditLog") if r["Operation"] == RETIRED]
    assert "by ops-lead: audit closed" in audit["Notes"]


def test_retain_days_sets_the_expiry(h, run):
    made = run(
        "checkpoint", "create", "--config", h.config.file, "--name", "short", "--retain-days", "3"
    )
    assert made.returncode == 0, made.stderr[-2000:]
    checkpoint = find_checkpoint(h.meta, "short")
    assert checkpoint is not None
    assert (checkpoint.retention_date - checkpoint.created.date()).days == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["checkpoint", "create", "--name", "x", "--retain-days", "0"], "use 1 to 36500"),
        (["checkpoint", "create", "--name", "x", "--retain-days", "5", "--keep-forever"], "both"),
        (["checkpoint", "retire", "ghost", "--reason", "r"], "does not exist"),
        (["checkpoint", "retire", "plain", "--reason", "r"], "is not permanent"),
        (["checkpoint", "retire", "plain"], "--reason"),
    ],
)
def test_bad_retention_and_retire_requests_exit_2_and_write_nothing(h, run, args, message):
    assert run("checkpoint", "create", "--config", h.config.file, "--name", "plain").returncode == 0
    before = written(h)
    bad = run(*args, "--config", h.config.file)
    assert bad.returncode == 2 and message in bad.stderr
    assert written(h) == before
