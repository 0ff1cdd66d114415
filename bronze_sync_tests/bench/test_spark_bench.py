"""`bronze-sync bench --engine both`: native and spark bronze_sync side by side on local Sail."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

import pytest

from bronze_sync.bench import pg_source, rollback, sail
from bronze_sync_tests.cli_runner import cli_runner
from bronze_sync_tests.conftest import PG_URL

ROWS = 2_000
PHASES = ["initial", "daily", "noop", "daily_recent", "rollback", "vacuum"]
SPARK_PHASES = {"state", "extract", "keys", "diff", "commit", "history", "validate"}


@pytest.fixture
def servers(monkeypatch):
    """Record every Sail server the bench starts (to check it is stopped afterwards)."""
    started: list[sail.SailServer] = []
    real = sail.sail_server

    def recording():
        with real() as server:
            started.append(server)
            yield server

    monkeypatch.setattr(sail, "sail_server", contextmanager(recording))
    return started


def test_bench_engine_both_runs_native_and_spark_phases(
    pg_schema, tmp_path, capsys, monkeypatch, servers
):
    # Workers get full table names; the 50-table rollback bench has its own test.
    monkeypatch.setattr(pg_source, "SCHEMA", pg_schema)
    monkeypatch.setattr(rollback, "bench_rollback", lambda **_: [])
    run = cli_runner(capsys, monkeypatch)
    out = tmp_path / "bench.json"
    args = f"--rows {ROWS} --engine both --tools bronze_sync --pg-url {PG_URL} --json {out}"
    done = run("bench", *args.split(), "--workdir", str(tmp_path / "work"))
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["rows"] == ROWS
    by_tool: dict[str, dict[str, dict]] = {}
    for r in data["results"]:
        by_tool.setdefault(r["tool"], {})[r["phase"]] = r
        assert r["seconds"] > 0 and r["peak_mb"] > 0
    assert {t: list(p) for t, p in by_tool.items()} == {
        "bronze_sync": PHASES,
        "bronze_sync[spark]": PHASES,
    }
    native, spark = by_tool["bronze_sync"], by_tool["bronze_sync[spark]"]
    for tool in (native, spark):
        daily, changes = tool["daily"], tool["daily"]["changes"]
        assert daily["committed"] is True and tool["noop"]["committed"] is False
        assert daily["counts"]["inserted"] == changes["inserted"] > 0
        assert daily["counts"]["updated"] == changes["updated"] > 0
        assert daily["counts"]["deleted"] == changes["deleted"] > 0
    # The spark tool's syncs ran on the cluster; the server's own CPU and memory are reported.
    assert native["daily"]["counts"]["engine"] == "native"
    for phase in ("daily", "noop", "daily_recent"):
        assert spark[phase]["counts"]["engine"] == "spark"
        assert spark[phase]["counts"]["delete_detection"] == "full_key_scan"
        assert spark[phase]["server_cpu_seconds"] > 0 and spark[phase]["server_peak_mb"] > 0
    assert set(spark["daily"]["phases"]) >= SPARK_PHASES
    assert spark["daily_recent"]["committed"] is True
    cores = os.cpu_count()
    rate = ROWS / spark["daily"]["seconds"] / cores
    assert data["spark_rows_per_s_per_core"] == pytest.approx(rate, rel=0.01)
    assert f"| daily | bronze_sync[spark] | {ROWS:,} |" in done.stdout
    assert "bronze_sync[spark] per phase" in done.stdout and "| server CPU s |" in done.stdout
    assert f"spark engine rows/s per core: {rate:,.0f} (" in done.stdout
    assert f"/ {cores} cores of the local Sail" in done.stdout
    assert "bronze_sync[spark] daily:" in done.stderr  # progress lines keep the tool's name
    # One server for the whole run, stopped at the end.
    assert len(servers) == 1 and servers[0].process.poll() is not None


def test_sail_server_stops_when_the_bench_fails():
    with pytest.raises(RuntimeError, match="phase failed"), sail.sail_server() as server:
        assert server.remote.startswith("sc://127.0.0.1:")
        assert server.usage()["peak_mb"]
        raise RuntimeError("phase failed")
    assert server.process.poll() is not None
