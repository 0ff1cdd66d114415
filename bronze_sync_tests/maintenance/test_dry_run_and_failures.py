"""A dry run changes nothing; one table failing never stops the others."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.maintenance import MaintenanceRequest, run_maintenance
from bronze_sync.maintenance.storage import measure
from bronze_sync_tests.maintenance.simulation import RecordingNotifier, listing, simulate

pytestmark = pytest.mark.slow  # emulator or many syncs per test: see conftest.SLOW_FOLDERS


def test_dry_run_reports_and_changes_nothing(pg_engine, pg_schema, make_config, harness_for):
    sim = simulate(pg_engine, pg_schema, make_config, harness_for, days=4)
    h = sim.harness
    before = listing(h)
    summary = run_maintenance(h.config, h.store, MaintenanceRequest(dry_run=True), now=sim.day(12))
    assert listing(h) == before
    assert summary.dry_run and summary.pre_checkpoint is None
    assert summary.deactivated  # the first days' Daily checkpoints would expire
    account = next(o for o in summary.outcomes if o.table == "account")
    vacuum = next(op for op in account.operations if op.operation == "Vacuum")
    assert vacuum.files_removed > 0 and "would remove" in " ".join(vacuum.details)
    optimize = next(op for op in account.operations if op.operation == "Optimize")
    assert "would compact" in " ".join(optimize.details)
    assert "DRY RUN" in summary.to_text() and "| account | bronze |" in summary.to_markdown()


def test_corrupted_table_does_not_stop_the_others(pg_engine, pg_schema, make_config, harness_for):
    sim = simulate(pg_engine, pg_schema, make_config, harness_for, days=3)
    h = sim.harness
    log = Path(h.store.table_uri("contact")) / "_delta_log"
    latest = sorted(log.glob("*.json"))[-1]
    latest.write_text("{not json")
    summary = run_maintenance(h.config, h.store, MaintenanceRequest(), now=sim.day(3))
    outcomes = {o.table: o for o in summary.outcomes}
    assert outcomes["contact"].status == "Failed" and outcomes["contact"].reasons()
    assert outcomes["account"].status == "Success"
    assert [op.status for op in outcomes["account"].operations] == ["Success"] * 3
    assert any(o.kind == "metadata" and o.status == "Success" for o in summary.outcomes)


def test_more_than_three_failures_alert(make_config, bronze_root):
    names = [f"t{i}" for i in range(5)]
    config = make_config([{"name": n, "source": f"public.{n}", "primary_key": "id"} for n in names])
    store = BronzeStore.from_config(config.bronze)
    for name in names:
        write_deltalake(store.table_uri(name), pa.table({"id": [1, 2]}))
        write_deltalake(store.table_uri(name), pa.table({"id": [3]}), mode="append")
    for name in names[:4]:
        (bronze_root / name / "_delta_log" / "00000000000000000001.json").write_text("garbage")
    notifier = RecordingNotifier()
    summary = run_maintenance(config, store, MaintenanceRequest(), now=_now(), notifier=notifier)
    assert len(summary.failures) == 4
    assert measure(store, store.table_uri("t4")).files >= 2
    alert = next(a for a in notifier.alerts if "4 table(s) failed" in a.subject)
    assert set(alert.tables) == set(names[:4])


def _now():
    import datetime as dt

    return dt.datetime(2025, 3, 2, 2, tzinfo=dt.UTC)


def test_zorder_columns_are_checked_against_the_bronze_table(make_config):
    tables = [
        {"name": "good", "source": "public.good", "primary_key": "id", "zorder_columns": ["v"]},
        {"name": "bad", "source": "public.bad", "primary_key": "id", "zorder_columns": "nope"},
    ]
    config = make_config(tables)
    store = BronzeStore.from_config(config.bronze)
    for name in ("good", "bad"):
        for v in range(3):
            write_deltalake(store.table_uri(name), pa.table({"id": [v], "v": [v]}), mode="append")
    summary = run_maintenance(config, store, MaintenanceRequest(include_metadata=False), now=_now())
    outcomes = {o.table: o for o in summary.outcomes}
    good = next(op for op in outcomes["good"].operations if op.operation == "Optimize")
    assert good.status == "Success" and "z_order(v)" in " ".join(good.details)
    bad = next(op for op in outcomes["bad"].operations if op.operation == "Optimize")
    assert bad.status == "Failed" and "bad" in bad.error and "zorder_columns" in bad.error
    assert "nope" in bad.error
