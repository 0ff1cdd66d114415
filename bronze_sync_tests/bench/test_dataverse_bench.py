"""The Dataverse benchmark measures a change-tracked daily sync without a key scan."""

from __future__ import annotations

from bronze_sync.bench.dataverse import run_dataverse_bench


def test_the_daily_change_tracked_sync_reads_only_the_changes():
    initial, daily = run_dataverse_bench(rows=3000, page_size=500, latency_ms=0)
    assert (initial["mode"], initial["rows"], initial["requests"]) == ("initial", 3000, 5 + 6)
    assert (daily["mode"], daily["rows"], daily["key_scan_requests"]) == ("changes", 30, 0)
    assert daily["requests"] == 5 + 1  # metadata + one delta page
