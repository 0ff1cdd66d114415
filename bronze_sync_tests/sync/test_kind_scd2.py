"""kind: scd2 — every source version kept, exactly one latest per business key."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from bronze_sync.validation import evaluate_table
from bronze_sync_tests.rollback.scenario import checkpoint
from bronze_sync_tests.sync.children import roll_back, unaudited_versions
from bronze_sync_tests.sync.kind_tables import customer_history, days_ago, new_version, scd2_entry


@pytest.fixture
def history(pg_engine, pg_schema):
    table = customer_history(pg_engine, pg_schema)
    rows = []
    for customer in range(1, 6):
        rows += [
            {
                "customerid": customer,
                "lastmodified": days_ago(200),
                "islatest": False,
                "name": "v1",
            },
            {"customerid": customer, "lastmodified": days_ago(90), "islatest": True, "name": "v2"},
        ]
    # customer 6 changed recently: its old version is inside the window
    rows += [
        {"customerid": 6, "lastmodified": days_ago(20), "islatest": False, "name": "v1"},
        {"customerid": 6, "lastmodified": days_ago(10), "islatest": True, "name": "v2"},
    ]
    table.insert(rows)
    return table


@pytest.fixture
def h(history, make_config, harness_for):
    entry = scd2_entry(history)
    return harness_for(make_config([entry]))


def versions(h):
    return {
        (r["customerid"], r["name"]): r
        for r in h.bronze().to_pylist()
        if not (r["IsDeleted"] or r["IsPurged"])
    }


def check(h, name="scd2_single_latest"):
    results = evaluate_table(h.store, h.meta, h.config.tables[0], h.now or days_ago(0), [name])
    return results[0]


def test_first_sync_loads_the_window_and_every_latest_version(h):
    result = h.sync()
    assert result.mode == "initial" and result.inserted == 7
    held = versions(h)
    assert {k for k in held if k[1] == "v1"} == {(6, "v1")}  # only the recent old version
    assert all(held[(c, "v2")]["islatest"] for c in range(1, 7))
    assert h.state()["Scd2LoadedFrom"]
    assert check(h).passed


def test_new_version_clears_the_older_latest_flag_in_the_same_commit(history, h):
    h.sync()
    version = h.delta().version()
    new_version(history, 3, "v3", days_ago(0))

    result = h.sync()

    assert h.delta().version() == version + 1
    # v2 (90 days old) lies outside the re-read window: its flag is cleared by the new version
    assert (result.inserted, result.updated, result.latest_cleared) == (1, 1, 1)
    held = versions(h)
    assert held[(3, "v3")]["islatest"] and not held[(3, "v2")]["islatest"]
    assert held[(3, "v2")]["SyncOperation"] == "UPDATE"
    assert [k for k, r in held.items() if k[0] == 3 and r["islatest"]] == [(3, "v3")]
    assert check(h).passed and unaudited_versions(h) == []


def test_versions_older_than_the_first_window_are_never_fetched_later(history, h):
    h.sync()
    new_version(history, 2, "v3", days_ago(0))
    result = h.sync()
    assert result.late_inserts == 0  # the 200-day-old versions stay out of bronze
    assert {k for k in versions(h) if k[1] == "v1"} == {(6, "v1")}
    assert result.source_rows == len(versions(h))  # counted within the loaded window


def test_two_latest_versions_in_the_source_are_mirrored_and_reported(history, h):
    h.sync()
    history.insert(
        [
            {"customerid": 7, "lastmodified": days_ago(2), "islatest": True, "name": "a"},
            {"customerid": 7, "lastmodified": days_ago(1), "islatest": True, "name": "b"},
        ]
    )
    h.sync()  # the sync succeeds: bronze mirrors the source
    held = versions(h)
    assert held[(7, "a")]["islatest"] and held[(7, "b")]["islatest"]
    result = check(h)
    assert not result.passed and "7" in result.message


def test_rollback_to_a_checkpoint_restores_the_older_latest(history, h):
    h.sync()
    checkpoint(h, "before_v3")
    new_version(history, 1, "v3", days_ago(0))
    h.sync()
    assert roll_back(h, "before_v3").success
    held = versions(h)
    assert (1, "v3") not in held and held[(1, "v2")]["islatest"]
    h.sync()  # the next sync converges again
    assert versions(h)[(1, "v3")]["islatest"] and not versions(h)[(1, "v2")]["islatest"]
    bronze = h.bronze()
    assert pc.sum(pc.cast(bronze.column("islatest"), "int64")).as_py() == 6  # one per customer
