"""The Dataverse benchmark: change tracking skips the key scan; without it, ranges run in parallel."""

from __future__ import annotations

from bronze_sync.bench.dataverse import run_dataverse_bench


def test_tracked_daily_reads_only_changes_and_untracked_reads_use_ranges():
    results = {r["phase"]: r for r in run_dataverse_bench(rows=3000, page_size=500, latency_ms=0)}
    initial = results["dataverse_initial_change_tracked"]
    daily = results["dataverse_daily_1pct_change_tracked"]
    assert (initial["mode"], initial["rows"], initial["requests"]) == ("initial", 3000, 5 + 6)
    assert (daily["mode"], daily["rows"], daily["key_scan_requests"]) == ("changes", 30, 0)
    assert daily["requests"] == 5 + 1  # metadata + one delta page

    ranged = results["dataverse_initial_untracked_4_ranges"]
    single = results["dataverse_initial_untracked_1_stream"]
    assert ranged["rows"] == single["rows"] == 3000
    # Two bounds requests, then each of 4 ranges (and the null range) pages on its own.
    assert ranged["requests"] > single["requests"] == 5 + 6
    for label in ("untracked_4_ranges", "untracked_1_stream"):
        untracked = results[f"dataverse_daily_1pct_{label}"]
        assert untracked["mode"] == "incremental" and untracked["key_scan_requests"] > 0
        # The overlap window re-reads the last hour's rows besides the 30 changed ones.
        assert 30 <= untracked["rows"] <= 30 + 61
