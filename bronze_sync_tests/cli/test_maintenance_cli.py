"""`bronze-sync maintenance`: dry run, table selection, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bronze_sync_tests.defs.test_maintenance_job import forget_reconstructed_jobs
from bronze_sync_tests.maintenance.simulation import listing, simulate


@pytest.fixture
def h(pg_engine, pg_schema, make_config, harness_for):
    forget_reconstructed_jobs()
    return simulate(pg_engine, pg_schema, make_config, harness_for, days=3).harness


def test_dry_run_prints_the_plan_and_changes_nothing(h, run):
    before = listing(h)
    code, out, _ = run("maintenance", "--config", h.config.file, "--dry-run")
    assert code == 0 and "DRY RUN" in out and "account [bronze]" in out
    assert listing(h) == before


def test_unknown_table_is_a_usage_error(h, run):
    code, _, err = run("maintenance", "--config", h.config.file, "--tables", "nope")
    assert code == 2 and "nope" in err


def test_failed_table_exits_1_after_maintaining_the_others(h, run):
    log = Path(h.store.table_uri("contact")) / "_delta_log"
    sorted(log.glob("*.json"))[-1].write_text("{broken")
    code, _, err = run("maintenance", "--config", h.config.file, "--skip-metadata")
    assert code == 1
    assert "contact [bronze] Failed" in err and "account [bronze] Success" in err
