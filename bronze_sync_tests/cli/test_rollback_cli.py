"""`bronze-sync rollback` (dry run, token, execute) and `bronze-sync rollbacks`."""

from __future__ import annotations

import pytest

from bronze_sync_tests.rollback.scenario import IDS, outage, recover, synced


@pytest.fixture
def h(pg_engine, pg_schema, make_config, harness_for):
    h = synced(pg_engine, pg_schema, make_config, harness_for)
    outage(h.account, keep=3)
    h.sync(allow_mass_delete=True)
    recover(h.account)
    return h


def token_of(stdout: str) -> str:
    (line,) = [x for x in stdout.splitlines() if x.startswith("Approval token: ")]
    return line.removeprefix("Approval token: ").strip()


def test_dry_run_prints_impact_and_token_then_execute_restores(h, run):
    file = h.config.file
    unknown = run("rollback", "--config", file, "--checkpoint", "nope")
    assert unknown.returncode == 2 and "no checkpoint named 'nope'" in unknown.stderr

    dry = run("rollback", "--config", file, "--checkpoint", "good", "--reason", "outage")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "account reappear: " + ", ".join(IDS[3:]) in dry.stdout
    assert "High" in dry.stdout and "Dry run" in dry.stdout
    token = token_of(dry.stdout)
    assert h.delta().version() == 1

    refused = run("rollback", "--config", file, "--checkpoint", "good", "--execute")
    assert refused.returncode == 2 and "needs the approval token" in refused.stderr
    done = run(
        "rollback",
        "--config",
        file,
        "--checkpoint",
        "good",
        "--execute",
        "--approval-token",
        token,
        "--reason",
        "outage",
        "--requested-by",
        "ops",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "account: v1 restored to v0 as v2" in done.stdout
    assert "Undo checkpoint post_rollback_" in done.stdout
    assert h.delta().version() == 2

    reused = run(
        "rollback",
        "--config",
        file,
        "--checkpoint",
        "good",
        "--execute",
        "--approval-token",
        token,
    )
    assert reused.returncode == 2 and "approval token already used by rollback run" in " ".join(
        reused.stderr.split()
    )

    listed = run("rollbacks", "--config", file)
    assert listed.returncode == 0
    lines = [x for x in listed.stdout.splitlines() if " good " in x]
    assert len(lines) == 2
    assert "Restored" in lines[0] and "ops" in lines[0] and "outage" in lines[0]
    assert "Dry run" in lines[1]
