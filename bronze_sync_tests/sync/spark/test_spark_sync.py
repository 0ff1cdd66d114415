"""The spark engine on a local Sail server: one MERGE per sync, the same bronze as native."""

from __future__ import annotations

import datetime as dt
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from bronze_sync.bronze.commit import commit_fields
from bronze_sync.bronze.commit_notes import history
from bronze_sync.bronze.row_metadata import METADATA_TYPES
from bronze_sync.errors import MassDeleteError
from bronze_sync.maintenance import MaintenanceRequest, run_maintenance
from bronze_sync.metadata.pipeline_config import record_purge
from bronze_sync_tests.helpers import NOW, PgTable

TRACKING = ["IsDeleted", "IsPurged", "DeletedDate", "PurgedDate", "LastSynced", "SyncOperation"]


def _twins(pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote, **settings):
    """Return (source, native harness, spark harness) over one source table."""
    name = f"t_{uuid.uuid4().hex[:8]}"
    src = PgTable(pg_engine, pg_schema, name)
    spark = {"engine": "spark", "spark": {"remote": sail_remote}}
    native_h = harness_for(
        make_config([src.config(name=name, **settings)], bronze={"path": str(tmp_path / "n")})
    )
    spark_h = harness_for(
        make_config(
            [src.config(name=name, **settings, **spark)], bronze={"path": str(tmp_path / "s")}
        )
    )
    return src, native_h, spark_h


def _sync_both(native_h, spark_h, when: dt.datetime, **kwargs):
    native_h.now = spark_h.now = when
    return native_h.sync(**kwargs), spark_h.sync(**kwargs)


def _rows(h):
    return h.bronze().to_pylist()


def test_spark_sync_writes_what_native_writes_in_one_merge(
    pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote
):
    src, native_h, spark_h = _twins(
        pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote, max_delete_fraction=1
    )
    old = NOW - dt.timedelta(days=400)
    src.insert([{"id": f"k{i}", "createdon": old if i < 3 else NOW} for i in range(8)])
    _sync_both(native_h, spark_h, NOW)
    src.update(["k5"], name="changed")
    src.delete(["k6"])
    src.purge_before(NOW - dt.timedelta(days=365))  # k0..k2
    src.insert([{"id": "k9", "createdon": NOW}])
    for h in (native_h, spark_h):
        record_purge(h.meta, h.config.tables[0], NOW - dt.timedelta(days=365), NOW)
    native, spark = _sync_both(native_h, spark_h, NOW + dt.timedelta(hours=1))

    assert spark.engine == "spark" and spark.committed
    assert (spark.inserted, spark.updated, spark.deleted, spark.purged) == (1, 1, 1, 3)
    assert (native.inserted, native.updated, native.deleted, native.purged) == (1, 1, 1, 3)
    assert _rows(spark_h) == _rows(native_h)
    ops = {r["id"]: r["SyncOperation"] for r in _rows(spark_h)}
    assert ops["k0"] == "PURGE" and ops["k6"] == "DELETE" and ops["k9"] == "INSERT"
    delta = spark_h.delta()
    assert delta.version() == 1  # the initial load, then ONE commit
    fields = commit_fields(history(delta, 1)[0])
    assert fields["run_id"] and fields["engine"] == "spark" and fields["purged"] == 3
    assert delta.protocol().min_reader_version == 1
    initial = commit_fields(history(delta)[-1])
    assert (initial["mode"], initial["engine"]) == ("initial", "spark")  # written on the cluster
    assert pa.schema(delta.schema().to_arrow()) == pa.schema(native_h.delta().schema().to_arrow())
    assert delta.metadata().configuration == native_h.delta().metadata().configuration
    assert spark.history_through == 1 and spark.history_rows.get(1) == native.history_rows.get(1)


def test_maintenance_compacts_a_spark_written_table_and_spark_syncs_go_on(
    pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote
):
    src, native_h, spark_h = _twins(
        pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote, max_delete_fraction=1
    )
    src.insert([{"id": f"k{i}", "createdon": NOW} for i in range(6)])
    _sync_both(native_h, spark_h, NOW)
    for hour in range(1, 4):
        src.update([f"k{hour}"], name=f"change {hour}")
        _sync_both(native_h, spark_h, NOW + dt.timedelta(hours=hour))
    later = NOW + dt.timedelta(days=10)
    summary = run_maintenance(spark_h.config, spark_h.store, MaintenanceRequest(), now=later)
    outcome = next(o for o in summary.outcomes if o.table == spark_h.config.tables[0].name)
    assert outcome.status == "Success", outcome.reasons()
    assert spark_h.delta().protocol().min_writer_version <= 2
    src.delete(["k5"])
    native, spark = _sync_both(native_h, spark_h, later)
    assert spark.engine == "spark" and spark.deleted == native.deleted == 1
    assert _rows(spark_h) == _rows(native_h)


def test_reappeared_row_is_undeleted_and_a_late_insert_is_fetched(
    pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote
):
    src, native_h, spark_h = _twins(
        pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote, max_delete_fraction=1
    )
    src.insert([{"id": f"k{i}", "createdon": NOW} for i in range(4)])
    _sync_both(native_h, spark_h, NOW)
    src.delete(["k1"])
    _sync_both(native_h, spark_h, NOW + dt.timedelta(hours=1))
    # Back with an old modified value (outside the window), plus a back-dated insert.
    back = NOW - dt.timedelta(days=30)
    src.insert([{"id": "k1", "createdon": NOW, "modifiedon": back}])
    src.insert([{"id": "k7", "createdon": back, "modifiedon": back}])
    native, spark = _sync_both(native_h, spark_h, NOW + dt.timedelta(hours=2))
    assert (
        (spark.undeleted, spark.late_inserts) == (1, 1) == (native.undeleted, native.late_inserts)
    )
    assert _rows(spark_h) == _rows(native_h)


def test_mass_delete_guard_refuses_and_bronze_is_unchanged(
    pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote
):
    src, _, spark_h = _twins(pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote)
    src.insert([{"id": f"k{i}", "createdon": NOW} for i in range(10)])
    spark_h.sync()
    src.delete([f"k{i}" for i in range(5)])
    with pytest.raises(MassDeleteError, match="5 of 10 active rows"):
        spark_h.sync()
    assert spark_h.delta().version() == 0
    assert spark_h.sync(allow_mass_delete=True).deleted == 5
    flags = spark_h.bronze().column("IsDeleted")
    assert pc.sum(flags).as_py() == 5


def test_a_column_gone_from_the_source_stays_in_bronze_and_a_returning_one_is_read_afresh(
    pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote
):
    src, native_h, spark_h = _twins(
        pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote, max_delete_fraction=1
    )
    src.insert([{"id": f"k{i}", "createdon": NOW} for i in range(4)])
    _sync_both(native_h, spark_h, NOW)
    src.execute(f"ALTER TABLE {src.source} DROP COLUMN amount")
    src.update(["k1"], name="changed")
    src.execute(
        f"INSERT INTO {src.source} (id, name, createdon, modifiedon) "
        "VALUES ('k9', 'new', now(), now())"
    )
    src.delete(["k2"])
    native, spark = _sync_both(native_h, spark_h, NOW + dt.timedelta(hours=1))
    assert (spark.engine, spark.engine_note) == ("spark", None)  # no schema change: the cluster
    assert spark.columns_dropped == native.columns_dropped == ["amount"]
    assert _rows(spark_h) == _rows(native_h)
    assert spark_h.state()["DroppedColumns"] == native_h.state()["DroppedColumns"] == '["amount"]'

    src.update(["k3"], name="again")
    native, spark = _sync_both(native_h, spark_h, NOW + dt.timedelta(hours=2))
    assert spark.engine == "spark" and spark_h.state()["DroppedColumns"] == '["amount"]'
    assert _rows(spark_h) == _rows(native_h)

    src.execute(f"ALTER TABLE {src.source} ADD COLUMN amount NUMERIC(38, 18)")
    src.execute(f"UPDATE {src.source} SET amount = 7")  # modifiedon kept: only a re-read sees it
    native, spark = _sync_both(native_h, spark_h, NOW + dt.timedelta(hours=3))
    assert spark.columns_readded == native.columns_readded == ["amount"]
    assert (spark.engine, spark.engine_note) == ("spark", None)  # filled on the cluster
    assert spark.filled == native.filled == 4  # k0, k1, k3, k9: every live row
    live = [r for r in _rows(spark_h) if not r["IsDeleted"]]
    assert {r["amount"] for r in live} == {7}
    assert _rows(spark_h) == _rows(native_h)


def test_a_row_moved_to_long_term_retention_is_purged_not_deleted(
    pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote
):
    src, native_h, spark_h = _twins(
        pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote, max_delete_fraction=1
    )
    src.execute(f"ALTER TABLE {src.source} ADD COLUMN msft_datastate INTEGER DEFAULT 0")
    src.insert([{"id": f"k{i}", "createdon": NOW} for i in range(5)])
    src.execute(f"UPDATE {src.source} SET msft_datastate = 1 WHERE id = 'k1'")
    _sync_both(native_h, spark_h, NOW)
    src.delete(["k1", "k2"])  # k1 went to Dataverse's long-term retention, k2 was deleted
    src.update(["k3"], name="still here")
    native, spark = _sync_both(native_h, spark_h, NOW + dt.timedelta(hours=1))
    assert spark.engine == "spark"
    assert (spark.purged, spark.deleted) == (native.purged, native.deleted) == (1, 1)
    ops = {r["id"]: r["SyncOperation"] for r in _rows(spark_h)}
    assert (ops["k1"], ops["k2"], ops["k3"]) == ("PURGE", "DELETE", "UPDATE")
    assert _rows(spark_h) == _rows(native_h)


METADATA = list(METADATA_TYPES)  # every row metadata column


def test_metadata_columns_are_stamped_on_the_cluster_as_native_stamps_them(
    pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote
):
    src, native_h, spark_h = _twins(
        pg_engine,
        pg_schema,
        make_config,
        harness_for,
        tmp_path,
        sail_remote,
        max_delete_fraction=1,
        metadata_columns=METADATA,
        source_system="CRM's \\ prod",  # quotes and backslashes reach SQL as a literal
    )
    old = NOW - dt.timedelta(days=400)
    src.insert([{"id": f"k{i}", "createdon": old if i < 2 else NOW} for i in range(7)])
    _sync_both(native_h, spark_h, NOW, partition="2026-12-01")
    assert pa.schema(spark_h.delta().schema().to_arrow()) == pa.schema(
        native_h.delta().schema().to_arrow()
    )
    assert _rows(spark_h) == _rows(native_h)

    src.update(["k2"], name="changed")
    src.update(["k3"], name=None)  # a null leaves its column out of the hash
    src.delete(["k4"])
    src.purge_before(NOW - dt.timedelta(days=365))  # k0, k1
    src.insert([{"id": "k9", "createdon": NOW}])
    for h in (native_h, spark_h):
        record_purge(h.meta, h.config.tables[0], NOW - dt.timedelta(days=365), NOW)
    native, spark = _sync_both(
        native_h, spark_h, NOW + dt.timedelta(hours=1), partition="2026-12-02"
    )
    assert spark.engine == "spark" and (spark.purged, spark.deleted) == (2, 1)
    assert _rows(spark_h) == _rows(native_h)

    src.insert([{"id": "k4", "createdon": NOW, "name": "back"}])  # undeleted
    native, spark = _sync_both(
        native_h, spark_h, NOW + dt.timedelta(hours=2), partition="2026-12-03"
    )
    assert spark.undeleted == native.undeleted == 1
    rows = {r["id"]: r for r in _rows(spark_h)}
    assert rows["k4"]["batch_id"] == "2026-12-03" and rows["k5"]["batch_id"] == "2026-12-01"
    assert rows["k4"]["load_timestamp"] < rows["k4"]["update_timestamp"]
    assert rows["k0"]["batch_id"] == "2026-12-02"  # the purge stamped it, hash kept
    assert rows["k9"]["source_system"] == "CRM's \\ prod"
    assert _rows(spark_h) == _rows(native_h)


def _types(h) -> dict[str, object]:
    return {f.name: f.type for f in pa.schema(h.delta().schema().to_arrow())}


def test_a_new_source_column_is_added_and_filled_for_every_row_on_the_cluster(
    pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote
):
    src, native_h, spark_h = _twins(
        pg_engine, pg_schema, make_config, harness_for, tmp_path, sail_remote, max_delete_fraction=1
    )
    src.insert([{"id": f"k{i}", "createdon": NOW} for i in range(6)])
    _sync_both(native_h, spark_h, NOW)
    # A default fills old rows without touching their modified value: only a fill sees it.
    src.execute(f"ALTER TABLE {src.source} ADD COLUMN region TEXT DEFAULT 'north'")
    src.execute(f"UPDATE {src.source} SET region = NULL WHERE id = 'k5'")
    src.update(["k1"], name="changed")
    src.delete(["k2"])
    src.execute(
        f"INSERT INTO {src.source} (id, name, amount, createdon, modifiedon, region) "
        "VALUES ('k9', 'new', 1, now(), now(), 'south')"
    )
    native, spark = _sync_both(native_h, spark_h, NOW + dt.timedelta(hours=1))
    assert (spark.engine, spark.engine_note) == ("spark", None)
    assert spark.columns_added == native.columns_added == ["region"]
    assert spark.filled == native.filled == 4  # k0, k1, k3, k4 (k5 stays NULL, k2 is gone)
    assert (spark.updated, spark.deleted, spark.inserted) == (native.updated, 1, 1)
    assert _types(spark_h) == _types(native_h)
    assert _rows(spark_h) == _rows(native_h)
    assert spark_h.delta().version() == 1 and spark_h.delta().protocol().min_reader_version == 1
    assert spark.history_rows.get(1) == native.history_rows.get(1) == 6  # k0 k1 k3 k4 k2 k9

    src.execute(f"UPDATE {src.source} SET region = 'east', modifiedon = now() WHERE id = 'k3'")
    native, spark = _sync_both(native_h, spark_h, NOW + dt.timedelta(hours=2))
    assert spark.engine == "spark" and _rows(spark_h) == _rows(native_h)

    src.execute(f"ALTER TABLE {src.source} ADD COLUMN note TEXT")  # nothing to fill, no change
    native, spark = _sync_both(native_h, spark_h, NOW + dt.timedelta(hours=3))
    assert spark.columns_added == ["note"] and spark.committed == native.committed
    assert _types(spark_h) == _types(native_h)
    assert _rows(spark_h) == _rows(native_h)
