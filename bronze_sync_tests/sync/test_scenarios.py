"""Sync scenarios against the real PostgreSQL server and real Delta tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow.compute as pc
import pytest

from bronze_sync.errors import SchemaChangeError
from bronze_sync.metadata.pipeline_config import record_purge
from bronze_sync_tests.helpers import NOW, PgTable, years_ago


@pytest.fixture
def account(pg_engine, pg_schema):
    return PgTable(pg_engine, pg_schema)


@pytest.fixture
def h(account, make_config, harness_for):
    return harness_for(make_config([account.config(max_delete_fraction=0.5)]))


def by_id(table):
    return {r["id"]: r for r in table.to_pylist()}


def test_initial_load_creates_table_with_tracking_columns(account, h):
    account.insert_ids([f"k{i}" for i in range(50)])
    result = h.sync()
    assert (result.mode, result.inserted, result.version) == ("initial", 50, 0)
    bronze = h.bronze()
    assert bronze.num_rows == 50
    assert set(bronze.column("SyncOperation").to_pylist()) == {"INSERT"}
    assert not any(bronze.column("IsDeleted").to_pylist() + bronze.column("IsPurged").to_pylist())
    assert bronze.schema.field("LastSynced").type.tz == "UTC"
    assert bronze.schema.field("createdon").type.tz == "UTC"


def test_updates_rewrite_only_changed_rows(account, h):
    account.insert_ids(["a", "b", "c"])
    h.sync()
    account.update(["b"], name="renamed")
    result = h.sync()
    assert (result.updated, result.unchanged, result.inserted) == (1, 2, 0)
    rows = by_id(h.bronze())
    assert rows["b"]["name"] == "renamed" and rows["b"]["SyncOperation"] == "UPDATE"
    assert rows["a"]["SyncOperation"] == "INSERT"
    history = h.delta().history(2)
    assert history[0]["version"] == history[1]["version"] + 1  # one commit for the sync
    # a and b are re-read through the overlap window; their modified value is what bronze
    # holds, so they are skipped before any file is read.
    assert (history[0]["bronze_sync.updated"], history[0]["bronze_sync.unmodified"]) == (1, 2)


def test_rows_reread_through_the_overlap_window_are_skipped(account, h):
    account.insert_ids(["a", "b"])
    h.sync()
    versions = h.delta().version()
    result = h.sync()
    assert (result.updated, result.unchanged, result.committed) == (0, 2, False)
    assert h.delta().version() == versions


def test_inserts_are_added(account, h):
    account.insert_ids(["a"])
    h.sync()
    account.insert_ids(["b", "c"])
    result = h.sync()
    assert result.inserted == 2
    assert sorted(by_id(h.bronze())) == ["a", "b", "c"]


def test_late_insert_with_old_modified_date_is_healed_by_key_scan(account, h):
    account.insert_ids(["a"])
    h.sync()
    old = years_ago(1)
    account.insert([{"id": "late", "createdon": old, "modifiedon": old}])
    result = h.sync()
    assert (result.inserted, result.late_inserts) == (1, 1)
    assert "late" in by_id(h.bronze())


def test_deleted_rows_are_flagged_not_removed(account, h):
    account.insert_ids([f"k{i}" for i in range(10)])
    h.sync()
    account.delete(["k3"])
    result = h.sync()
    assert (result.deleted, result.purged) == (1, 0)
    row = by_id(h.bronze())["k3"]
    assert row["IsDeleted"] and not row["IsPurged"]
    assert row["SyncOperation"] == "DELETE" and row["DeletedDate"] is not None
    assert row["PurgedDate"] is None and row["name"] == "name k3"
    assert h.bronze().num_rows == 10


def test_purged_rows_created_before_purge_date_are_flagged_purged(account, h):
    account.insert_ids(["old1", "old2"], created=years_ago(6))
    account.insert_ids(["new1", "new2"], created=years_ago(1))
    h.sync()
    cutoff = years_ago(5)
    purged = account.purge_before(cutoff)
    account.delete(["new1"])
    record_purge(h.meta, h.config.tables[0], cutoff, NOW, purged)
    result = h.sync()
    assert (result.purged, result.deleted) == (2, 1)
    rows = by_id(h.bronze())
    assert rows["old1"]["IsPurged"] and rows["old1"]["SyncOperation"] == "PURGE"
    assert rows["old1"]["PurgedDate"] is not None and rows["old1"]["DeletedDate"] is None
    assert rows["new1"]["IsDeleted"] and not rows["new1"]["IsPurged"]


def test_old_row_vanishing_without_recorded_purge_is_a_delete(account, h):
    account.insert_ids(["old"], created=years_ago(6))
    account.insert_ids(["x", "y"])
    h.sync()
    account.delete(["old"])
    result = h.sync()
    assert (result.deleted, result.purged) == (1, 0)


def test_row_reappearing_in_source_is_undeleted(account, h):
    old = years_ago(2)
    account.insert([{"id": i, "modifiedon": old} for i in ["a", "b", "c"]])
    h.sync()
    account.delete(["b"])
    h.sync()
    # Restored with its old modified date: only the key scan can notice it is back.
    account.insert([{"id": "b", "modifiedon": old, "name": "restored"}])
    result = h.sync()
    assert result.undeleted == 1
    row = by_id(h.bronze())["b"]
    assert not row["IsDeleted"] and row["DeletedDate"] is None
    assert row["SyncOperation"] == "UNDELETE" and row["name"] == "restored"


def test_new_source_column_is_added_and_dropped_column_kept(account, h):
    account.insert_ids(["a", "b"])
    h.sync()
    account.execute(f"ALTER TABLE {account.source} ADD COLUMN city text")
    account.execute(
        f"UPDATE {account.source} SET city = 'Leeds', modifiedon = now() WHERE id = 'a'"
    )
    result = h.sync()
    assert result.columns_added == ["city"]
    assert by_id(h.bronze())["a"]["city"] == "Leeds"
    account.execute(f"ALTER TABLE {account.source} DROP COLUMN name")
    account.execute(
        f"INSERT INTO {account.source} (id, amount, createdon, modifiedon) VALUES ('c', 1, now(), now())"
    )
    result = h.sync()
    assert result.columns_dropped == ["name"]
    rows = by_id(h.bronze())
    assert rows["a"]["name"] == "name a" and rows["c"]["name"] is None


def test_incompatible_type_change_fails_and_writes_nothing(account, h):
    account.insert_ids(["a"])
    h.sync()
    version = h.delta().version()
    account.execute(f"ALTER TABLE {account.source} ALTER COLUMN amount TYPE text")
    with pytest.raises(SchemaChangeError, match="'amount' changed from decimal128"):
        h.sync()
    assert h.delta().version() == version


def test_numeric_38_18_round_trips_exactly(account, h):
    values = {
        "max": Decimal("99999999999999999999.999999999999999999"),
        "tiny": Decimal("0.000000000000000001"),
        "neg": Decimal("-12345678901234567890.123456789012345678"),
    }
    account.insert({"id": k, "amount": v} for k, v in values.items())
    h.sync()
    assert {k: r["amount"] for k, r in by_id(h.bronze()).items()} == values
    assert str(h.bronze().schema.field("amount").type) == "decimal128(38, 18)"


def test_rerun_without_source_changes_commits_nothing(account, h):
    account.insert_ids(["a", "b"])
    h.sync()
    account.update(["a"], name="x")
    first = h.sync()
    again = h.sync()
    assert first.committed and not again.committed
    assert again.version == first.version and again.changed_rows == 0


def test_crash_between_extraction_and_commit_leaves_bronze_unchanged(account, h):
    account.insert_ids(["a", "b", "c"])
    h.sync()
    before = h.bronze()
    account.update(["a"], name="changed")
    account.delete(["b"])

    def crash(table, stage, message):
        if stage == "commit":
            raise RuntimeError("simulated crash before the commit")

    with pytest.raises(RuntimeError, match="simulated crash"):
        h.sync(progress=crash)
    assert h.bronze().equals(before)
    result = h.sync()
    assert (result.updated, result.deleted) == (1, 1)


def test_full_extraction_without_modified_column(account, make_config, harness_for):
    config = make_config([account.config(modified_column=None, max_delete_fraction=1)])
    h = harness_for(config)
    account.insert_ids(["a", "b", "c"])
    h.sync()
    account.execute(f"UPDATE {account.source} SET name = 'quiet' WHERE id = 'a'")  # no modifiedon
    account.delete(["c"])
    result = h.sync()
    assert (result.mode, result.updated, result.deleted, result.unchanged) == ("full", 1, 1, 1)


def test_track_deletes_off_never_flags(account, make_config, harness_for):
    h = harness_for(make_config([account.config(track_deletes=False)]))
    account.insert_ids(["a", "b"])
    h.sync()
    account.delete(["a"])
    result = h.sync()
    assert result.deleted == 0 and not result.full_key_scan
    assert not any(h.bronze().column("IsDeleted").to_pylist())


def test_composite_primary_key(pg_engine, pg_schema, make_config, harness_for):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {pg_schema}.line (order_id int, line_no int, qty int, "
            "modifiedon timestamptz default now(), PRIMARY KEY (order_id, line_no))"
        )
        conn.exec_driver_sql(
            f"INSERT INTO {pg_schema}.line (order_id, line_no, qty) VALUES (1,1,5),(1,2,6),(2,1,7)"
        )
    table = {
        "name": "line",
        "source": f"{pg_schema}.line",
        "primary_key": ["order_id", "line_no"],
        "modified_column": "modifiedon",
        "max_delete_fraction": 1,
    }
    h = harness_for(make_config([table]))
    h.sync()
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE {pg_schema}.line SET qty = 9, modifiedon = now() WHERE order_id=1 AND line_no=2"
        )
        conn.exec_driver_sql(f"DELETE FROM {pg_schema}.line WHERE order_id = 2")
    result = h.sync()
    assert (result.updated, result.deleted) == (1, 1)
    rows = {(r["order_id"], r["line_no"]): r for r in h.bronze().to_pylist()}
    assert rows[(1, 2)]["qty"] == 9 and rows[(2, 1)]["IsDeleted"]


def test_existing_table_without_tracking_columns_gets_them(account, h):
    import pyarrow as pa
    from deltalake import write_deltalake

    account.insert_ids(["a", "b"])
    legacy = pa.table(
        {
            "id": ["a", "b"],
            "name": ["name a", "name b"],
            "amount": pa.array([Decimal("1.5")] * 2, pa.decimal128(38, 18)),
            "createdon": pa.array([NOW] * 2, pa.timestamp("us", tz="UTC")),
            "modifiedon": pa.array([NOW - dt.timedelta(days=1)] * 2, pa.timestamp("us", tz="UTC")),
        }
    )
    h.store.ensure_root()
    write_deltalake(h.store.table_uri("account"), legacy)
    account.delete(["b"])
    result = h.sync()
    assert result.tracking_added and result.deleted == 1
    rows = by_id(h.bronze())
    assert rows["a"]["IsDeleted"] is False and rows["a"]["LastSynced"] is not None
    assert rows["b"]["IsDeleted"] is True
    ops = pc.unique(h.meta.read("SyncAuditLog").column("Operation")).to_pylist()
    assert "AddTrackingColumns" in ops
