"""The command line with bronze on Azurite (abfss://)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # in-process Dagster runs of the CLI


def token_of(stdout: str) -> str:
    (line,) = [x for x in stdout.splitlines() if x.startswith("Approval token: ")]
    return line.removeprefix("Approval token: ").strip()


def test_cli_syncs_reports_and_shows_status_history_and_checkpoints(
    account, az_config, run, bronze
):
    account.insert_ids(["a", "b", "c"])
    config = az_config([account.config(max_delete_fraction=0.5)])
    first = run("sync", "--config", config.file, "--partition", "2026-11-22")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "bronze_batch_2026-11-22 pins account@v0" in first.stdout
    account.update(["b"], name="renamed")
    account.delete(["c"])
    second = run("sync", "--config", config.file, "--partition", "2026-11-23")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]

    status = run("status", "--config", config.file)
    assert status.returncode == 0, status.stderr
    assert f"bronze at {bronze.uri}" in status.stdout
    line = next(line for line in status.stdout.splitlines() if "│ account" in line)
    assert "Success" in line

    checkpoints = run("checkpoints", "--config", config.file)
    assert checkpoints.returncode == 0, checkpoints.stderr
    assert "bronze_batch_2026-11-23" in checkpoints.stdout

    history = run("history", "--config", config.file, "--table", "account", "--key", "b")
    assert history.returncode == 0, history.stderr
    assert "UPDATE" in history.stdout and "INSERT" in history.stdout and "renamed" in history.stdout

    report = run("report", "--config", config.file, "--day", "2026-11-23", "--no-email")
    assert report.returncode == 0, report.stdout[-2000:] + report.stderr[-2000:]
    assert "bronze/reports/health_2026-11-23.html" in bronze.blobs()

    validated = run("checkpoints", "validate", "--config", config.file)
    assert validated.returncode == 0, validated.stdout[-2000:] + validated.stderr[-2000:]
    dry = run("rollback", "--config", config.file, "--checkpoint", "bronze_batch_2026-11-22")
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    assert "Dry run" in dry.stdout
    done = run(
        "rollback",
        "--config",
        config.file,
        "--checkpoint",
        "bronze_batch_2026-11-22",
        "--execute",
        "--approval-token",
        token_of(dry.stdout),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "account: v1 restored to v0 as v2" in done.stdout
    restored = run("history", "--config", config.file, "--table", "account", "--key", "b")
    assert "ROLLBACK" in restored.stdout
