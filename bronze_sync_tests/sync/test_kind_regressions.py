"""Regressions the table-kind property tests found, each reduced to its smallest history."""

from __future__ import annotations

import sqlalchemy as sa

from bronze_sync.metadata.schemas import DATA_VALIDATION
from bronze_sync.sync import run_table_sync
from bronze_sync_tests.helpers import PgTable


def test_reloading_a_value_the_source_emptied_flags_its_rows_and_validates(
    pg_engine, pg_schema, make_config, harness_for
):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {pg_schema}.positions "
            "(id int, cobid int, qty numeric(18,4), PRIMARY KEY (id, cobid))"
        )
        conn.exec_driver_sql(
            f"INSERT INTO {pg_schema}.positions VALUES (1, 20260101, 1), (2, 20260102, 2)"
        )
    entry = {
        "name": "positions",
        "source": f"{pg_schema}.positions",
        "kind": "partitioned",
        "primary_key": ["id", "cobid"],
        "partition_column": "cobid",
        "max_delete_fraction": 1,
    }
    h = harness_for(make_config([entry]))
    h.sync()
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM {pg_schema}.positions WHERE cobid = 20260101")

    job = h.job()
    job.partition_values = (20260101,)
    result = run_table_sync(job, h.config.tables[0])

    assert (result.deleted, result.source_rows, result.scope_active) == (1, 0, 0)
    flags = {(r["id"], r["cobid"]): r["IsDeleted"] for r in h.bronze().to_pylist()}
    assert flags == {(1, 20260101): True, (2, 20260102): False}
    assert h.meta.rows(DATA_VALIDATION)[-1]["ValidationPassed"] is True


def test_a_merged_source_that_lost_every_row_counts_as_a_full_key_scan(
    pg_engine, pg_schema, make_config, harness_for
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    h = harness_for(make_config([account.config(max_delete_fraction=1)]))
    h.sync()
    with pg_engine.begin() as conn:
        conn.execute(sa.delete(account.table))

    result = h.sync()

    assert (result.deleted, result.source_rows, result.full_key_scan) == (2, 0, True)
