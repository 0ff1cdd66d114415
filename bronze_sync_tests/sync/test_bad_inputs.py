"""Bad inputs at sync time: a clear error naming what is wrong, nothing written, others synced."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from bronze_sync.errors import (
    MassDeleteError,
    SourceDataError,
    SourceSchemaError,
    SourceUnavailableError,
)
from bronze_sync_tests.helpers import PgTable


@pytest.fixture
def account(pg_engine, pg_schema):
    return PgTable(pg_engine, pg_schema)


def failed_audit(h, table):
    log = h.meta.read("SyncAuditLog")
    rows = log.filter(
        pc.and_(pc.equal(log.column("TableName"), table), pc.equal(log.column("Status"), "Failed"))
    )
    return rows.to_pylist()


def unkeyed_table(pg_engine, schema, name="dupes"):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {schema}.{name} (id text, name text, modifiedon timestamptz default now())"
        )
    return {
        "name": name,
        "source": f"{schema}.{name}",
        "primary_key": "id",
        "modified_column": "modifiedon",
    }


# diff_partitions=4: the keys are checked one spilled partition at a time.
@pytest.mark.parametrize("parts", [None, 4])
def test_duplicate_keys_in_source_fail_naming_keys(
    pg_engine, pg_schema, make_config, harness_for, parts
):
    table = unkeyed_table(pg_engine, pg_schema)
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO {pg_schema}.dupes (id) VALUES ('a'),('b'),('b'),('c'),('c'),('c')"
        )
    h = harness_for(make_config([table], sync={"diff_partitions": parts}))
    with pytest.raises(
        SourceDataError, match=r"2 primary key value\(s\) occur more than once.*'b'"
    ):
        h.sync()
    assert h.delta() is None
    assert "occur more than once" in failed_audit(h, "dupes")[0]["ErrorMessage"]


@pytest.mark.parametrize("parts", [None, 4])
def test_duplicate_key_on_incremental_sync_writes_nothing(
    pg_engine, pg_schema, make_config, harness_for, parts
):
    table = unkeyed_table(pg_engine, pg_schema)
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO {pg_schema}.dupes (id) VALUES ('a'),('b')")
    h = harness_for(make_config([table], sync={"diff_partitions": parts}))
    h.sync()
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO {pg_schema}.dupes (id) VALUES ('a')")
    with pytest.raises(SourceDataError, match="'a'"):
        h.sync()
    assert h.delta().version() == 0


def test_null_key_in_source_fails(pg_engine, pg_schema, make_config, harness_for):
    table = unkeyed_table(pg_engine, pg_schema)
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO {pg_schema}.dupes (id) VALUES ('a'),(NULL),(NULL)")
    h = harness_for(make_config([table]))
    with pytest.raises(
        SourceDataError, match=r"2 source row\(s\) have a null primary key in column 'id'"
    ):
        h.sync()
    assert h.delta() is None


def test_unknown_source_table(pg_schema, make_config, harness_for):
    h = harness_for(
        make_config([{"name": "ghost", "source": f"{pg_schema}.ghost", "primary_key": "id"}])
    )
    with pytest.raises(
        SourceSchemaError, match=f"ghost: source table '{pg_schema}.ghost' does not exist"
    ):
        h.sync()
    assert h.delta() is None and failed_audit(h, "ghost")


def test_missing_primary_key_column(account, make_config, harness_for):
    h = harness_for(make_config([account.config(primary_key="accountid")]))
    with pytest.raises(
        SourceSchemaError, match="primary key column 'accountid' is not a column of"
    ):
        h.sync()


def test_modified_column_must_be_a_timestamp(account, make_config, harness_for):
    h = harness_for(make_config([account.config(modified_column="name")]))
    with pytest.raises(
        SourceSchemaError, match="modified_column 'name' must be a date or timestamp"
    ):
        h.sync()


def test_unreachable_source_is_retryable_and_hides_password(account, make_config, harness_for):
    url = "postgresql+psycopg://postgres:s3cr3tpw@127.0.0.1:1/test"
    h = harness_for(
        make_config([account.config()], source={"url": url, "connect_timeout_seconds": 2})
    )
    with pytest.raises(SourceUnavailableError) as info:
        h.sync()
    assert info.value.retryable
    assert "s3cr3tpw" not in str(info.value)
    assert all("s3cr3tpw" not in (r["ErrorMessage"] or "") for r in failed_audit(h, "account"))


def test_mass_delete_guard_blocks_and_override_allows(account, make_config, harness_for):
    h = harness_for(make_config([account.config(max_delete_fraction=0.1)]))
    account.insert_ids([f"k{i:02d}" for i in range(20)])
    h.sync()
    account.delete([f"k{i:02d}" for i in range(5)])
    with pytest.raises(
        MassDeleteError, match=r"flag 5 of 20 active rows \(25.0%\).*max_delete_fraction 10%"
    ):
        h.sync()
    assert h.delta().version() == 0
    result = h.sync(allow_mass_delete=True)
    assert result.deleted == 5


def test_purges_do_not_count_towards_the_guard(account, make_config, harness_for):
    from bronze_sync.metadata.pipeline_config import record_purge
    from bronze_sync_tests.helpers import NOW, years_ago

    h = harness_for(make_config([account.config(max_delete_fraction=0.1)]))
    account.insert_ids([f"old{i}" for i in range(8)], created=years_ago(7))
    account.insert_ids([f"new{i}" for i in range(12)])
    h.sync()
    cutoff = years_ago(5)
    account.purge_before(cutoff)
    record_purge(h.meta, h.config.tables[0], cutoff, NOW)
    assert h.sync().purged == 8


def test_failing_table_does_not_stop_others(account, pg_schema, make_config, harness_for):
    config = make_config(
        [{"name": "ghost", "source": f"{pg_schema}.ghost", "primary_key": "id"}, account.config()]
    )
    h = harness_for(config)
    account.insert_ids(["a"])
    with pytest.raises(SourceSchemaError):
        h.sync("ghost")
    assert h.sync("account").inserted == 1
