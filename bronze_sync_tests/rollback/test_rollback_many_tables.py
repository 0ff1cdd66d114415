"""Fifty tables rolled back in one run, and the rollback benchmark's figures."""

from __future__ import annotations

import pytest

from bronze_sync.bench.rollback import bench_rollback, prepare_bench, roll_back
from bronze_sync.bronze.reader import count_flags
from bronze_sync.bronze.storage import BronzeStore

pytestmark = pytest.mark.slow  # Dagster runs or many syncs: see conftest.SLOW_FOLDERS


def test_fifty_tables_are_rolled_back_in_one_run(tmp_path):
    config = prepare_bench(tmp_path / "bronze", tables=50, rows=40)
    store = BronzeStore.from_config(config.bronze)
    dry = roll_back(config, dry_run=True)
    assert len(dry.plan.report.tables) == 50
    assert dry.plan.report.total("reappearing") == 50 * 20
    done = roll_back(config, dry_run=False, token=dry.plan.token)
    assert done.success and len(done.results) == 50
    assert {r.new_version for r in done.results} == {2}
    for table in config.tables:
        delta = store.open(store.table_uri(table.name))
        assert count_flags(delta) == {"total": 40, "active": 40, "deleted": 0, "purged": 0}
    assert set(done.post_checkpoint.table_versions.values()) == {1}


def test_bench_rollback_reports_dry_run_and_execution(tmp_path):
    figures = bench_rollback(tables=2, rows_per_table=100, workdir=tmp_path)
    assert [f["phase"] for f in figures] == ["rollback_dry_run_2x100", "rollback_execute_2x100"]
    assert all(f["tool"] == "bronze_sync" and f["rows"] == 200 for f in figures)
    assert all(f["seconds"] > 0 for f in figures)
