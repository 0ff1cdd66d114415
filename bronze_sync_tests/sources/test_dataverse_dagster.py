"""The daily_sync job, executed in-process by Dagster, with a Dataverse source (the emulator)."""

from __future__ import annotations

import pytest

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.cli.runner import dagster_instance, run_daily_sync
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.pipeline_config import read_state
from bronze_sync.testing.dataverse.demo import donation_entity
from bronze_sync_tests.dataverse import account_row, account_table, dataverse_config, key
from bronze_sync_tests.helpers import years_ago

pytestmark = pytest.mark.slow  # Dagster runs or many syncs: see conftest.SLOW_FOLDERS


def figures(outcome, table="account"):
    return next(t for t in outcome.tables if t.table == table)


def test_daily_sync_runs_change_tracked_syncs_deletes_purges_and_survives_faults(
    emulator, tmp_path, dagster_home
):
    emulator.insert("account", [account_row(i, created=years_ago(i % 7)) for i in range(30)])
    config = dataverse_config(emulator, tmp_path, page_size=8)
    with dagster_instance() as instance:
        first = run_daily_sync(config, instance, "2026-11-20")
        assert first.success, first.tables
        assert figures(first).figures["inserted"] == 30

        emulator.update("account", key(1), name="renamed")
        emulator.delete("account", [key(2)])
        emulator.retain("account", [key(3)])
        emulator.throttle(after=1, count=4, retry_after=0.2)  # a 429 storm
        second = run_daily_sync(config, instance, "2026-11-21")
        assert second.success, second.tables
        assert (figures(second).figures["updated"], figures(second).figures["deleted"]) == (2, 1)

        emulator.remove_retained("account")
        emulator.fail(503, count=3)  # a 503 burst
        third = run_daily_sync(config, instance, "2026-11-22")
        assert third.success, third.tables
        assert figures(third).figures["purged"] == 1

        emulator.expire_change_tokens("account")
        emulator.delete("account", [key(4)])
        fourth = run_daily_sync(config, instance, "2026-11-23")
        assert fourth.success and figures(fourth).figures["deleted"] == 1
        assert figures(fourth).figures["source_rows"] == 27
    throttled = [r for r in emulator.api_requests() if r.status == 429]
    assert len(throttled) == 4
    meta = MetadataStore(BronzeStore.from_config(config.bronze))
    assert "$deltatoken=" in read_state(meta, "account")["ChangeToken"]


def test_a_bad_secret_or_an_unknown_entity_fails_its_table_and_writes_nothing(
    emulator, tmp_path, dagster_home, monkeypatch
):
    emulator.add_entity(donation_entity())
    emulator.insert("account", [account_row(i) for i in range(3)])
    ghost = {"name": "ghost", "source": "ghostentity", "primary_key": "ghostid"}
    config = dataverse_config(emulator, tmp_path, tables=[account_table(), ghost])
    with dagster_instance() as instance:
        outcome = run_daily_sync(config, instance, "2026-11-20")
        assert not outcome.success
        assert figures(outcome).status == "Success"
        failed = figures(outcome, "ghost")
        assert failed.status == "Failed" and "ghostentity" in failed.error
        assert "404" in failed.error

        monkeypatch.setenv("BRONZE_TEST_DATAVERSE_SECRET", "not-the-secret")
        bad = run_daily_sync(config, instance, "2026-11-21")
    error = figures(bad).error
    assert figures(bad).status == "Failed" and "invalid_client" in error
    assert "not-the-secret" not in error
    store = BronzeStore.from_config(config.bronze)
    assert store.open(store.table_uri("ghost")) is None
    assert store.open(store.table_uri("account")).version() == 0
