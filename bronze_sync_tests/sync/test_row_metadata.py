"""Row metadata columns: load/update times, batch, source system and record hash per row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

from bronze_sync.bronze.row_metadata import RowStamp
from bronze_sync.errors import ConfigError
from bronze_sync.rows.record_hash import record_hashes
from bronze_sync.validation import evaluate_table
from bronze_sync_tests.helpers import PgTable
from bronze_sync_tests.sync.kind_tables import customer_history, days_ago, new_version, scd2_entry

ALL = ["load_timestamp", "update_timestamp", "source_system", "batch_id", "record_hash"]
T0 = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)


def _row(h, key: str) -> dict:
    return next(r for r in h.bronze().to_pylist() if r["id"] == key)


def test_timestamps_batch_and_hash_through_insert_update_delete_undelete(
    pg_engine, pg_schema, make_config, harness_for
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    h = harness_for(make_config([account.config(metadata_columns=ALL, max_delete_fraction=1)]))
    h.now = T0
    h.sync(partition="2026-12-01")
    first = _row(h, "a")
    assert first["load_timestamp"] == first["update_timestamp"] == first["LastSynced"] == T0
    assert (first["source_system"], first["batch_id"]) == ("postgresql", "2026-12-01")
    data = ["amount", "createdon", "id", "modifiedon", "name"]
    expected = record_hashes(pa.Table.from_pylist([first]), data)[0].as_py()
    assert first["record_hash"] == expected

    account.update(["a"], name="renamed")
    h.now = T0 + dt.timedelta(days=1)
    h.sync(partition="2026-12-02")
    updated = _row(h, "a")
    assert updated["load_timestamp"] == T0  # set on insert, never changed
    assert updated["update_timestamp"] == T0 + dt.timedelta(days=1)
    assert updated["batch_id"] == "2026-12-02" and updated["record_hash"] != first["record_hash"]
    untouched = _row(h, "b")
    assert (untouched["update_timestamp"], untouched["batch_id"]) == (T0, "2026-12-01")

    account.delete(["a"])
    h.now = T0 + dt.timedelta(days=2)
    h.sync(partition="2026-12-03")
    deleted = _row(h, "a")
    assert deleted["IsDeleted"] and deleted["load_timestamp"] == T0
    assert deleted["update_timestamp"] == T0 + dt.timedelta(days=2)  # a flag change counts
    assert deleted["record_hash"] == updated["record_hash"]  # the source values did not change

    account.insert([{"id": "a", "name": "renamed"}])
    h.now = T0 + dt.timedelta(days=3)
    h.sync(partition="2026-12-04")
    back = _row(h, "a")
    assert back["SyncOperation"] == "UNDELETE" and back["load_timestamp"] == T0
    assert (back["update_timestamp"], back["batch_id"]) == (T0 + dt.timedelta(days=3), "2026-12-04")


def test_turning_the_columns_on_backfills_every_row_in_one_commit(
    pg_engine, pg_schema, make_config, harness_for
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b", "c"])
    h = harness_for(make_config([account.config()]))
    h.now = T0
    wall = dt.datetime.now(dt.UTC)
    h.sync()
    account.update(["b"], name="changed")
    h.now = T0 + dt.timedelta(days=1)
    h.sync()
    before = h.delta().version()

    h2 = harness_for(make_config([account.config(metadata_columns=ALL, source_system="CRM")]))
    h2.now = T0 + dt.timedelta(days=2)
    result = h2.sync(partition="2026-12-03")
    assert h2.delta().version() == before + 1 and result.committed
    rows = {r["id"]: r for r in h2.bronze().to_pylist()}
    assert rows["a"]["load_timestamp"] == T0  # never changed since its insert: exact
    assert rows["b"]["update_timestamp"] == T0 + dt.timedelta(days=1)  # its last change
    # Changed since its insert: loaded when the table was created (its first commit's time).
    created = rows["b"]["load_timestamp"]
    assert wall - dt.timedelta(seconds=1) <= created <= dt.datetime.now(dt.UTC)
    assert {r["source_system"] for r in rows.values()} == {"CRM"}
    assert all(r["record_hash"] and r["batch_id"] == "2026-12-03" for r in rows.values())
    assert h2.sync().committed is False  # nothing changes on the next sync
    table = h2.config.tables[0]
    checks = evaluate_table(h2.store, h2.meta, table, h2.now)
    failed = [(c.check, c.message) for c in checks if not c.passed and not c.skipped]
    assert not failed  # the row history holds the backfill, the audit names the version


def test_a_source_column_named_like_a_metadata_column_is_a_config_error(
    pg_engine, pg_schema, make_config, harness_for
):
    account = PgTable(pg_engine, pg_schema)
    account.execute(f'alter table "{pg_schema}".account add column batch_id text')
    account.insert_ids(["a"])
    h = harness_for(make_config([account.config(metadata_columns=["batch_id"])]))
    with pytest.raises(ConfigError, match="metadata_columns batch_id is also a column"):
        h.sync()
    assert h.delta() is None  # nothing written


def test_record_hash_is_equal_for_the_same_values_from_postgresql_and_sqlite(
    pg_engine, pg_schema, make_config, harness_for, tmp_path
):
    values = {
        "id": "k1",
        "name": "Zoë",
        "amount": Decimal("12.50"),
        "createdon": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "modifiedon": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    }
    account = PgTable(pg_engine, pg_schema)
    account.insert([values])
    pg = harness_for(make_config([account.config(metadata_columns=["record_hash"])]))
    pg.sync()

    url = f"sqlite:///{tmp_path / 'crm.db'}"
    with sa.create_engine(url).begin() as conn:
        conn.exec_driver_sql(
            "create table account (id text primary key, name text, amount numeric(12, 2), "
            "createdon timestamp, modifiedon timestamp)"
        )
        conn.exec_driver_sql(
            "insert into account values ('k1', 'Zoë', 12.5, '2026-01-02 03:04:05', "
            "'2026-01-02 03:04:05')"
        )
    entry = {**account.config(metadata_columns=["record_hash"]), "source": "account"}
    lite = harness_for(
        make_config([entry], source={"url": url}, bronze={"path": str(tmp_path / "lite")})
    )
    lite.sync()
    pg_row, lite_row = pg.bronze().to_pylist()[0], lite.bronze().to_pylist()[0]
    assert pg.source.system_name == "postgresql" and lite.source.system_name == "sqlite"
    assert pg_row["record_hash"] == lite_row["record_hash"]


def test_an_scd2_record_hash_leaves_out_the_latest_flag_bronze_clears(
    pg_engine, pg_schema, make_config, harness_for
):
    history = customer_history(pg_engine, pg_schema)
    history.insert(
        [{"customerid": 1, "lastmodified": days_ago(90), "islatest": True, "name": "v1"}]
    )
    entry = scd2_entry(history, metadata_columns=["record_hash"])
    h = harness_for(make_config([entry]))
    h.sync()
    first = h.bronze().to_pylist()[0]["record_hash"]
    new_version(history, 1, "v2", days_ago(0))
    assert h.sync().updated == 1  # the older version is no longer latest
    rows = {r["name"]: r for r in h.bronze().to_pylist()}
    assert not rows["v1"]["islatest"]
    assert rows["v1"]["record_hash"] == first  # its source values did not change
    stored = h.bronze().select(["customerid", "lastmodified", "name"])
    assert (
        h.bronze().column("record_hash").to_pylist()
        == record_hashes(stored, stored.column_names).to_pylist()
    )


def test_backfill_hashes_only_rows_without_a_record_hash():
    stamp = RowStamp(
        names=("load_timestamp", "record_hash"), source_system="s", batch_id="b", now=T0
    )
    rows = pa.table(
        {
            "id": ["a", "b"],
            "name": ["x", "y"],
            "LastSynced": pa.array([T0, T0], pa.timestamp("us", tz="UTC")),
            "SyncOperation": ["INSERT", "INSERT"],
            "load_timestamp": pa.array([None, None], pa.timestamp("us", tz="UTC")),
            "record_hash": ["kept", None],
        }
    )
    filled, changed = stamp.backfill(rows)
    assert changed.tolist() == [True, True]  # both lacked a load time
    expected = record_hashes(rows.select(["id", "name"]), ["id", "name"]).to_pylist()
    assert filled.column("record_hash").to_pylist() == ["kept", expected[1]]
    assert filled.column("load_timestamp").to_pylist() == [T0, T0]
