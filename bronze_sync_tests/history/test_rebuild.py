"""Rebuilding a version from the Delta log: partitioned tables, large versions in key parts."""

from __future__ import annotations

import shutil

import sqlalchemy as sa

from bronze_sync.history import scan
from bronze_sync.history.columns import history_uri
from bronze_sync.sync import run_table_sync
from bronze_sync_tests.history.conftest import history_table, roll_back
from bronze_sync_tests.history.oracle import assert_history_matches_time_travel
from bronze_sync_tests.sync.kind_tables import position_rows, positions


def test_a_partitioned_table_is_rebuilt_with_its_partition_values(
    pg_engine, pg_schema, make_config, harness_for, bronze_root
):
    source = positions(pg_engine, pg_schema)
    for cobid in (20260105, 20260106):
        source.insert(position_rows(cobid, range(10)))
    entry = {
        "name": "positions",
        "source": source.source,
        "primary_key": ["id", "cobid"],
        "kind": "partitioned",
        "partition_column": "cobid",
        "max_delete_fraction": 1,
    }
    h = harness_for(make_config([entry]))
    h.sync()
    source.insert(position_rows(20260107, range(10), qty="2.00"))
    source.run(sa.update(source.table).where(source.table.c.cobid == 20260106).values(qty=9))
    h.sync()
    reload = h.job()
    reload.partition_values = (20260106,)
    run_table_sync(reload, h.config.tables[0])  # the reload of one value
    last = roll_back(h, 0, "positions")
    live = history_table(h, "positions")
    shutil.rmtree(bronze_root / "history" / "positions")  # every version rebuilt from the log
    h.sync()
    rebuilt = history_table(h, "positions")
    keys = ["id", "cobid"]
    uri = str(h.delta_dir("positions"))
    assert_history_matches_time_travel(uri, rebuilt, keys, 0, last)
    assert_history_matches_time_travel(uri, live, keys, 0, last)
    rolled = {r["cobid"] for r in rebuilt.to_pylist() if r["Operation"] == "ROLLBACK"}
    assert rolled == {20260106, 20260107}  # the reloaded value and the new one


def test_a_large_version_is_compared_in_key_partitions(account, h, monkeypatch):
    account.insert_ids(f"k{i:04d}" for i in range(2000))
    h.sync()
    account.update([f"k{i:04d}" for i in range(0, 2000, 7)], name="changed")
    account.delete([f"k{i:04d}" for i in range(1, 2000, 50)])
    account.insert_ids(f"n{i:03d}" for i in range(100))
    h.sync()
    monkeypatch.setattr(scan, "FINGERPRINT_BUDGET_MB", 0)  # forces key partitions
    assert scan.partitions_for(4000, scan.FINGERPRINT_BUDGET_MB) > 1
    last = roll_back(h, 0)
    shutil.rmtree(h.store.root + "/history/account")
    h.sync()
    assert_history_matches_time_travel(str(h.delta_dir()), history_table(h), ["id"], 0, last)
    assert history_uri(h.store, "account").endswith("history/account")
