"""The Dataverse benchmark: change tracking skips the key scan; without it, ranges run in parallel."""

from __future__ import annotations

import os
from typing import Any

import pytest

from bronze_sync.bench.dataverse import run_dataverse_bench, summary


@pytest.fixture(scope="module")
def figures() -> list[dict[str, Any]]:
    return run_dataverse_bench(rows=3000, page_size=500, latency_ms=0)


# Picklist, multi-select, state, status and lookup metadata, and the targets' primary ids.
REFERENCE_REQUESTS = 6


def test_tracked_daily_reads_only_changes_and_untracked_reads_use_ranges(figures):
    results = {r["phase"]: r for r in figures}
    initial = results["dataverse_initial_change_tracked"]
    daily = results["dataverse_daily_1pct_change_tracked"]
    # metadata, then 6 pages, then the reference tables' choice and lookup metadata
    assert (initial["mode"], initial["rows"], initial["requests"]) == (
        "initial",
        3000,
        5 + 6 + REFERENCE_REQUESTS,
    )
    assert (daily["mode"], daily["rows"], daily["key_scan_requests"]) == ("changes", 30, 0)
    assert daily["requests"] == 5 + 1 + REFERENCE_REQUESTS  # one delta page

    ranged = results["dataverse_initial_untracked_4_ranges"]
    single = results["dataverse_initial_untracked_1_stream"]
    assert ranged["rows"] == single["rows"] == 3000
    # Two bounds requests, then each of 4 ranges (and the null range) pages on its own.
    assert ranged["requests"] > single["requests"] == 5 + 6 + REFERENCE_REQUESTS
    for label in ("untracked_4_ranges", "untracked_1_stream"):
        untracked = results[f"dataverse_daily_1pct_{label}"]
        assert untracked["mode"] == "incremental" and untracked["key_scan_requests"] > 0
        # The overlap window re-reads the last hour's rows besides the 30 changed ones.
        assert 30 <= untracked["rows"] <= 30 + 61


def test_emulator_runs_in_its_own_process_and_client_cpu_is_reported(figures):
    results = figures
    pids = {r["emulator_pid"] for r in results}
    assert len(pids) == 1 and os.getpid() not in pids and 0 not in pids
    for r in results:
        assert r["cpu_seconds"] > 0 and r["cpu_us_per_row"] > 0 and r["emulator_cpu_seconds"] > 0
        assert r["cpu_us_per_row"] == pytest.approx(r["cpu_seconds"] / r["rows"] * 1e6, rel=0.05)
    read = next(r for r in results if r["phase"] == "dataverse_read_only_1_stream")
    assert (read["mode"], read["rows"], read["requests"]) == ("read", 3000, 6)  # pages only
    ranged = next(r for r in results if r["phase"] == "dataverse_read_only_4_ranges")
    assert ranged["rows"] == 3000 and ranged["requests"] > 6  # two bounds, then each range
    lines = "\n".join(summary(results))
    assert "untracked_4_ranges" in lines and "goal >= 3x" in lines
    assert "Read path alone at 0 ms per page" in lines
    # The child is gone once the benchmark returns (no orphan emulator).
    (pid,) = pids
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
