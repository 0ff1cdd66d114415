"""Bronze tables keep a Delta protocol Microsoft Fabric reads; the check names what breaks it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from bronze_sync.bronze.protocol import (
    BRONZE_READER_VERSION,
    BRONZE_WRITER_VERSION,
    protocol_report,
)
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.clock import utc_now
from bronze_sync.metadata import MetadataStore
from bronze_sync.validation import evaluate_table
from bronze_sync_tests.helpers import PgTable

UTC_STAMP = pa.timestamp("us", tz="UTC")


def utc_rows() -> pa.Table:
    return pa.table(
        {
            "id": ["a", "b"],
            "when": pa.array([dt.datetime(2024, 1, 1, tzinfo=dt.UTC)] * 2, UTC_STAMP),
        }
    )


def test_synced_bronze_metadata_and_history_tables_are_fabric_readable(
    pg_engine, pg_schema, make_config, harness_for
):
    t = PgTable(pg_engine, pg_schema)
    t.execute(f"ALTER TABLE {t.source} ADD COLUMN naive_stamp timestamp without time zone")
    t.insert_ids(["a", "b", "c"])
    t.execute(f"UPDATE {t.source} SET naive_stamp = '2024-05-01 10:00:00'")
    h = harness_for(make_config([t.config(allow_mass_delete=True)]))
    h.sync()
    t.delete(["c"])
    h.sync()

    bronze = protocol_report(h.delta())
    assert (bronze.reader_version, bronze.writer_version) == (
        BRONZE_READER_VERSION,
        BRONZE_WRITER_VERSION,
    )
    assert bronze.fabric_readable, bronze.problems
    assert h.delta().schema().to_arrow().field("naive_stamp").type == UTC_STAMP
    others = [p.parent for p in Path(h.store.root).glob("*/*/_delta_log")]
    assert any(p.parent.name == "metadata" for p in others)
    assert any(p.parent.name == "history" for p in others)
    for table in others:
        report = protocol_report(DeltaTable(str(table)))
        assert report.fabric_readable, (table, report.problems)


def test_deletion_vectors_make_the_table_unreadable(tmp_path):
    uri = str(tmp_path / "dv")
    write_deltalake(uri, utc_rows(), configuration={"delta.enableDeletionVectors": "true"})

    report = protocol_report(DeltaTable(uri))

    assert not report.fabric_readable
    assert "table feature deletionVectors" in report.problems


def test_timestamp_ntz_column_makes_the_table_unreadable(tmp_path):
    uri = str(tmp_path / "ntz")
    write_deltalake(uri, pa.table({"at": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("us"))}))

    report = protocol_report(DeltaTable(uri))

    assert "table feature timestampNtz" in report.problems
    assert any(p.startswith("timestamp_ntz column(s) at") for p in report.problems)


def test_column_mapping_makes_the_table_unreadable(tmp_path):
    uri = str(tmp_path / "cm")
    write_deltalake(uri, utc_rows(), configuration={"delta.columnMapping.mode": "name"})

    report = protocol_report(DeltaTable(uri))

    assert report.problems == ("column mapping mode name (delta.columnMapping.mode)",)


def test_v2_checkpoint_policy_makes_the_table_unreadable(tmp_path):
    uri = str(tmp_path / "v2")
    write_deltalake(uri, utc_rows(), configuration={"delta.checkpointPolicy": "v2"})

    assert protocol_report(DeltaTable(uri)).problems == (
        "v2 checkpoints (delta.checkpointPolicy = v2)",
    )


def test_fabric_check_fails_once_a_bronze_table_gains_deletion_vectors(
    pg_engine, pg_schema, make_config, harness_for
):
    t = PgTable(pg_engine, pg_schema)
    t.insert_ids(["a", "b"])
    config = make_config([t.config()])
    h = harness_for(config)
    h.sync()
    store = BronzeStore.from_config(config.bronze)
    meta = MetadataStore(store)
    table = config.tables[0]
    [before] = evaluate_table(store, meta, table, utc_now(), ["fabric_readable"])

    h.delta().alter.set_table_properties({"delta.enableDeletionVectors": "true"})
    [after] = evaluate_table(store, meta, table, utc_now(), ["fabric_readable"])

    assert before.passed and before.figures["min_reader_version"] == BRONZE_READER_VERSION
    assert not after.passed and after.blocking_failure
    assert "deletionVectors" in after.message
    assert after.message.startswith("Fabric cannot read this table")
