"""Regressions the table-kind property tests found, each reduced to its smallest history."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from bronze_sync.metadata.schemas import DATA_VALIDATION
from bronze_sync.sync import run_table_sync
from bronze_sync_tests.helpers import NOW, PgTable


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


def test_a_merged_source_that_lost_every_row_counts_as_a_complete_key_comparison(
    pg_engine, pg_schema, make_config, harness_for
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    h = harness_for(make_config([account.config(max_delete_fraction=1)]))
    h.sync()
    with pg_engine.begin() as conn:
        conn.execute(sa.delete(account.table))

    result = h.sync()

    # Key checksums proved both keys gone: a complete comparison, as a full key scan is.
    assert (result.deleted, result.source_rows, result.keys_reconciled) == (2, 0, True)
    assert result.key_path == "checksum"


# In memory and in spilled key partitions (the diff reads the latest flags differently).
@pytest.mark.parametrize("diff_partitions", [None, 2])
def test_a_late_arriving_scd2_version_clears_the_older_latest_flag(
    pg_engine, pg_schema, make_config, harness_for, diff_partitions
):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {pg_schema}.history (cid text, lastmodified timestamptz, "
            "islatest boolean, name text, PRIMARY KEY (cid, lastmodified))"
        )
    rows = sa.table(
        "history",
        sa.column("cid"),
        sa.column("lastmodified"),
        sa.column("islatest"),
        sa.column("name"),
        schema=pg_schema,
    )
    day, hour = dt.timedelta(days=1), dt.timedelta(hours=1)
    with pg_engine.begin() as conn:
        conn.execute(
            rows.insert(),
            [
                {"cid": "a", "lastmodified": NOW - 2 * day, "islatest": True, "name": "a1"},
                {"cid": "b", "lastmodified": NOW - hour, "islatest": True, "name": "b1"},
            ],
        )
    entry = {
        "name": "customer_history",
        "source": f"{pg_schema}.history",
        "kind": "scd2",
        "primary_key": ["cid", "lastmodified"],
        "business_key": "cid",
        "modified_column": "lastmodified",
        "latest_column": "islatest",
    }
    h = harness_for(make_config([entry]))
    h.now = NOW
    h.sync()
    # A version of `a` committed late: modified before bronze's watermark (b's version).
    with pg_engine.begin() as conn:
        conn.execute(rows.update().where(rows.c.cid == "a").values(islatest=False))
        conn.execute(
            rows.insert().values(cid="a", lastmodified=NOW - day, islatest=True, name="a2")
        )
    h.now = NOW + hour

    result = h.sync(diff_partitions=diff_partitions)

    latest = {(r["cid"], r["name"]): r["islatest"] for r in h.bronze().to_pylist()}
    assert latest == {("a", "a1"): False, ("a", "a2"): True, ("b", "b1"): True}
    assert (result.late_inserts, result.latest_cleared) == (1, 1)
