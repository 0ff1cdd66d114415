"""The benchmark harness: each tool's phases run in subprocesses against real PostgreSQL."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from bronze_sync.bench import harness, pg_source
from bronze_sync.bench.report import markdown, write_json
from bronze_sync_tests.conftest import PG_URL

ROWS = 3_000


@pytest.fixture
def bench_schema(pg_engine, pg_schema, monkeypatch):
    # The harness's parent process builds tables in pg_source.SCHEMA; workers get full names.
    monkeypatch.setattr(pg_source, "SCHEMA", pg_schema)
    pg_source.build_template(pg_engine, ROWS)
    return pg_schema


def test_bronze_sync_phases_see_exactly_the_daily_changes(bench_schema, tmp_path):
    results = harness.run_tool("bronze_sync", ROWS, PG_URL, tmp_path, lambda _: None)
    by_phase = {r["phase"]: r for r in results}
    assert list(by_phase) == ["initial", "daily", "noop", "daily_recent", "rollback", "vacuum"]
    daily, changes = by_phase["daily"], by_phase["daily"]["changes"]
    assert daily["counts"]["inserted"] == changes["inserted"] > 0
    assert daily["counts"]["updated"] == changes["updated"] > 0
    assert daily["counts"]["deleted"] == changes["deleted"] > 0
    assert by_phase["noop"]["committed"] is False
    assert {"extract", "keys", "diff", "commit", "checkpoint"} <= set(daily["phases"])
    assert all(r["peak_mb"] > 0 for r in results)
    recent, recent_changes = by_phase["daily_recent"], by_phase["daily_recent"]["changes"]
    assert recent["counts"]["updated"] == recent_changes["updated"] > 0
    assert recent["counts"]["deleted"] == recent_changes["deleted"] > 0
    assert recent["counts"]["inserted"] == recent_changes["inserted"] > 0
    files = recent["counts"]
    assert 0 < files["files_rewritten"] <= files["files_total"]
    # Deletes found by key checksums after the initial load's full read; the no-op reads no key.
    assert daily["counts"]["delete_detection"] == "checksum" and daily["counts"]["keys_compared"]
    assert (
        by_phase["noop"]["counts"]["delete_detection"],
        by_phase["noop"]["counts"]["keys_compared"],
    ) == ("checksum", 0)
    # The floor of the commit: pyarrow alone rewriting the same files.
    assert daily["phases"]["commit_floor"] > 0


def test_notebook_tool_merges_every_row_and_flags_deletes(bench_schema, tmp_path):
    results = harness.run_tool("notebook", ROWS, PG_URL, tmp_path, lambda _: None)
    initial, daily, noop, recent = results
    assert [r["phase"] for r in results] == ["initial", "daily", "noop", "daily_recent"]
    assert initial["merged"] == ROWS
    changes = daily["changes"]
    assert daily["merged"] == ROWS - changes["deleted"] + changes["inserted"]
    assert daily["flagged"] == changes["deleted"] and noop["flagged"] == 0
    assert recent["flagged"] == recent["changes"]["deleted"] > 0


def test_report_lists_every_phase_and_writes_the_json_contract(bench_schema, tmp_path):
    results = harness.run_tool("bronze_sync", ROWS, PG_URL, tmp_path, lambda _: None)
    table = markdown(results, "test machine")
    assert "| daily | bronze_sync | 3,000 |" in table and "| phase | schema |" in table
    assert "| delete detection |" in table and "checksum (0 keys)" in table
    write_json(tmp_path / "bench.json", ROWS, results, "test machine")
    data = json.loads((tmp_path / "bench.json").read_text())
    assert data["rows"] == ROWS
    assert {(r["tool"], r["phase"]) for r in data["results"]} >= {("bronze_sync", "daily")}
    assert all({"seconds", "peak_mb"} <= set(r) for r in data["results"])


def test_source_copies_are_dropped(bench_schema, pg_engine, tmp_path):
    harness.run_tool("bronze_sync", ROWS, PG_URL, tmp_path, lambda _: None)
    inspector = sa.inspect(pg_engine)
    assert pg_source.table_name("bronze_sync") not in inspector.get_table_names(bench_schema)


def test_each_phase_starts_after_a_checkpoint_of_the_servers_dirty_pages(pg_engine):
    def requested() -> int:
        with pg_engine.connect() as conn:
            return int(
                conn.exec_driver_sql("SELECT checkpoints_req FROM pg_stat_bgwriter").scalar()
            )

    before = requested()
    assert pg_source.settle(pg_engine) is True
    assert requested() >= before + 1


def test_a_role_without_checkpoint_rights_runs_phases_unsettled(pg_engine, pg_schema):
    role = f"{pg_schema}_plain"
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
    try:
        plain = sa.create_engine(pg_engine.url.set(username=role))
        assert pg_source.settle(plain) is False
        plain.dispose()
    finally:
        with pg_engine.begin() as conn:
            conn.exec_driver_sql(f'DROP ROLE "{role}"')
