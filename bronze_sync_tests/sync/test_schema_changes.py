"""Source schema changes: added and re-added columns are complete, safe widenings applied."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from bronze_sync.checkpoints import list_checkpoints
from bronze_sync.errors import SchemaChangeError
from bronze_sync.history.columns import history_uri
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync_tests.helpers import PgTable, years_ago
from bronze_sync_tests.rollback.scenario import Alerts
from bronze_sync_tests.sync.children import assert_mirrors_source, unaudited_versions


@pytest.fixture
def account(pg_engine, pg_schema):
    return PgTable(pg_engine, pg_schema)


@pytest.fixture
def h(account, make_config, harness_for):
    old = years_ago(2)
    account.insert([{"id": f"k{i:05d}", "createdon": old, "modifiedon": old} for i in range(2000)])
    h = harness_for(make_config([account.config()]))
    h.sync()
    account.insert_ids(["recent"])  # the only row inside the watermark window
    h.sync()
    return h


def active_values(h, column):
    rows = h.bronze().to_pylist()
    return {r[column] for r in rows if not (r["IsDeleted"] or r["IsPurged"])}


def test_added_column_with_a_default_reaches_every_bronze_row(account, h):
    account.execute(f"alter table {account.source} add column extra2 integer default 42")
    before = h.delta().version()

    result = h.sync()

    assert active_values(h, "extra2") == {42}
    assert result.columns_added == ["extra2"] and result.filled == 2001
    assert h.delta().version() == before + 1  # schema and values in ONE commit
    assert h.bronze().schema.field("extra2").type == pa.int32()
    assert unaudited_versions(h) == []


def test_added_column_read_in_full_when_there_is_no_watermark(account, make_config, harness_for):
    account.insert_ids(["a", "b"])
    h = harness_for(make_config([account.config(modified_column=None)]))
    h.sync()
    account.execute(f"alter table {account.source} add column extra integer default 5")
    h.sync()
    assert active_values(h, "extra") == {5}


def test_re_added_column_takes_the_source_values_again(account, h):
    account.execute(f"alter table {account.source} add column note text default 'first'")
    h.sync()
    account.execute(f"alter table {account.source} drop column note")
    h.sync()  # bronze keeps the column and its old values
    assert active_values(h, "note") == {"first"}
    account.execute(f"alter table {account.source} add column note text default 'second'")

    result = h.sync()

    assert result.columns_readded == ["note"]
    assert active_values(h, "note") == {"second"}


def test_safe_widenings_rewrite_bronze_once_after_a_checkpoint(account, h):
    account.execute(f"alter table {account.source} add column qty integer default 1")
    account.execute(f"alter table {account.source} add column price numeric(10,2) default 1.25")
    h.sync()
    before = h.delta().version()
    account.execute(f"alter table {account.source} alter column qty type bigint")
    account.execute(f"alter table {account.source} alter column price type numeric(14,2)")
    account.insert([{"id": "big"}])
    account.execute(
        f"update {account.source} set qty = 9000000000, price = 123456789012.34 where id = 'big'"
    )

    result = h.sync()

    schema = h.bronze().schema
    assert schema.field("qty").type == pa.int64()
    assert schema.field("price").type == pa.decimal128(14, 2)
    rows = {r["id"]: r for r in h.bronze().to_pylist()}
    assert rows["big"]["qty"] == 9_000_000_000
    assert rows["big"]["price"] == Decimal("123456789012.34")
    assert rows["k00001"]["price"] == Decimal("1.25")
    # The row history follows the wider types and keeps every version.
    assert result.history_error is None and result.history_through == h.delta().version()
    history = h.store.open(history_uri(h.store, "account")).to_pyarrow_table()
    assert history.schema.field("qty").type == pa.int64()
    big = [r for r in history.to_pylist() if r["id"] == "big"]
    assert [(r["Operation"], r["qty"]) for r in big] == [("INSERT", 9_000_000_000)]
    assert sorted(result.columns_widened) == [
        "price decimal128(10, 2) -> decimal128(14, 2)",
        "qty int32 -> int64",
    ]
    pre = [c for c in list_checkpoints(h.meta) if c.name.startswith("pre_schema_change_account")]
    assert [c.table_versions for c in pre] == [{"account": before}]
    audit = h.meta.read(SYNC_AUDIT_LOG).to_pylist()
    widen = [r for r in audit if r["Operation"] == "SchemaEvolution" and "widened" in r["Notes"]]
    assert [r["DeltaVersion"] for r in widen] == [before + 1]
    assert unaudited_versions(h) == []
    assert_mirrors_source(h.bronze(), account)


def test_widened_primary_key_keeps_every_row(pg_engine, pg_schema, make_config, harness_for):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f'create table "{pg_schema}".item (id integer primary key, v text)')
        conn.exec_driver_sql(
            f"insert into \"{pg_schema}\".item select g, 'v' from generate_series(1, 500) g"
        )
    h = harness_for(
        make_config([{"name": "item", "source": f"{pg_schema}.item", "primary_key": "id"}])
    )
    h.sync()
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f'alter table "{pg_schema}".item alter column id type bigint')
        conn.exec_driver_sql(f"insert into \"{pg_schema}\".item values (5000000000, 'big')")

    result = h.sync()

    assert (result.inserted, result.deleted) == (1, 0)
    bronze = h.bronze()
    assert bronze.schema.field("id").type == pa.int64() and bronze.num_rows == 501


def test_narrower_source_type_keeps_the_wider_bronze_type(account, h):
    account.execute(f"alter table {account.source} alter column amount type numeric(10,2)")
    h.sync()
    assert h.bronze().schema.field("amount").type == pa.decimal128(38, 18)


def test_incompatible_change_is_still_refused(account, h):
    version = h.delta().version()
    account.execute(f"alter table {account.source} alter column amount type text")
    with pytest.raises(SchemaChangeError, match="incompatible source type change: 'amount'"):
        h.sync()
    assert h.delta().version() == version


def test_a_changed_schema_is_alerted_once_and_an_unchanged_one_not_at_all(account, h):
    alerts = Alerts()
    assert h.sync(notifier=alerts).committed is False and alerts.sent == []
    account.execute(f"alter table {account.source} add column region text")
    h.sync(notifier=alerts)
    (alert,) = alerts.sent
    assert alert.error_class == "SchemaDrift" and alert.tables == ("account",)
    assert "columns added: region" in alert.subject and alert.severity.value == "MEDIUM"
    h.sync(notifier=alerts)
    assert len(alerts.sent) == 1  # nothing changed since
