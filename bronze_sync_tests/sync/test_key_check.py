"""Which delete-detection path a sync takes, why, and what it records (PostgreSQL, SQLite)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from bronze_sync.metadata.schemas import DATA_VALIDATION, SYNC_AUDIT_LOG
from bronze_sync.rows.pghash import HASH_COLUMN
from bronze_sync.sync.noop import PROVEN
from bronze_sync_tests.helpers import NOW, PgTable

KEYS = [f"k{i:03d}" for i in range(300)]


@pytest.fixture
def account(pg_engine, pg_schema):
    table = PgTable(pg_engine, pg_schema)
    table.insert_ids(KEYS)
    return table


def harness(make_config, harness_for, account, **settings):
    return harness_for(make_config([account.config(max_delete_fraction=1, **settings)]))


def active_ids(h) -> set[str]:
    bronze = h.bronze()
    flags = pc.or_(bronze.column("IsDeleted"), bronze.column("IsPurged"))
    return set(bronze.filter(pc.invert(flags)).column("id").to_pylist())


def test_deletes_are_found_by_checksums_comparing_only_the_differing_buckets(
    account, make_config, harness_for
):
    h = harness(make_config, harness_for, account)
    h.sync()
    account.delete(["k001", "k002"])
    result = h.sync()
    assert (result.key_path, result.deleted) == ("checksum", 2)
    assert result.key_path_reason == "2 of 256 key buckets differ"
    assert result.keys_compared < 20  # the keys of two buckets, not all 298
    assert result.source_rows == 298 and active_ids(h) == set(KEYS) - {"k001", "k002"}
    figures = result.metadata()
    assert figures["delete_detection"] == "checksum"
    assert figures["delete_detection_reason"] == "2 of 256 key buckets differ"
    validation = max(h.meta.rows(DATA_VALIDATION), key=lambda r: r["ValidationDate"])
    assert validation["ValidationPassed"] and "key checksums" in validation["Notes"]
    detection = [r for r in h.meta.rows(SYNC_AUDIT_LOG) if r["Operation"] == "DeleteDetection"]
    assert [r["Notes"] for r in detection] == [
        "path=checksum (2 of 256 key buckets differ); deleted: 'k001', 'k002'"
    ]


def test_a_day_without_changes_compares_no_key(account, make_config, harness_for):
    h = harness(make_config, harness_for, account)
    h.sync()
    result = h.sync()
    assert (result.key_path, result.key_path_reason) == ("checksum", "key count and checksum equal")
    assert (result.keys_compared, result.deleted, result.source_rows) == (0, 0, 300)


def test_a_delete_balanced_by_a_back_dated_insert_is_not_missed(account, make_config, harness_for):
    h = harness(make_config, harness_for, account)
    h.sync()
    old = NOW - dt.timedelta(days=400)
    account.delete(["k010"])
    account.insert([{"id": "late", "createdon": old, "modifiedon": old}])  # below the watermark
    result = h.sync()
    assert result.key_path == "checksum"
    assert (result.deleted, result.late_inserts, result.source_rows) == (1, 1, 300)
    assert active_ids(h) == (set(KEYS) - {"k010"}) | {"late"}


def test_every_key_is_compared_again_after_full_key_scan_every_days(
    account, make_config, harness_for
):
    h = harness(make_config, harness_for, account, full_key_scan_every_days=7)
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    paths = []
    for day in (0, 1, 6, 7, 8, 15):
        h.now = start + dt.timedelta(days=day)
        result = h.sync()
        paths.append((day, result.key_path, result.key_path_reason))
    assert paths[1:] == [
        (1, "checksum", "key count and checksum equal"),
        (6, "checksum", PROVEN),  # day 1 saved its version's key state
        (7, "full_key_scan", "the last full key scan was 7 days ago (full_key_scan_every_days: 7)"),
        (8, "checksum", "key count and checksum equal"),
        (
            15,
            "full_key_scan",
            "the last full key scan was 8 days ago (full_key_scan_every_days: 7)",
        ),
    ]
    assert h.state()["LastFullKeyScan"] == start + dt.timedelta(days=15)


def test_zero_days_compares_every_key_on_every_sync(account, make_config, harness_for):
    h = harness(make_config, harness_for, account, full_key_scan_every_days=0)
    h.sync()
    result = h.sync()
    assert (result.key_path, result.key_path_reason) == (
        "full_key_scan",
        "full_key_scan_every_days is 0",
    )
    assert result.keys_compared == 300


def test_too_many_differing_buckets_read_every_key(account, make_config, harness_for):
    h = harness(make_config, harness_for, account)
    h.sync()
    account.delete(KEYS[:250])
    result = h.sync()
    assert result.key_path == "full_key_scan"
    assert result.key_path_reason.endswith("of 256 key buckets differ")
    assert (result.deleted, result.keys_compared) == (250, 50)


def test_a_source_whose_hashes_disagree_with_bronze_gets_a_full_key_scan(
    account, make_config, harness_for
):
    h = harness(make_config, harness_for, account)
    h.sync()
    account.delete(["k005"])
    honest = h.source.read_bucket_keys

    def other_hash(*args):  # e.g. a collation or text rendering bronze does not share
        for batch in honest(*args):
            index = batch.schema.get_field_index(HASH_COLUMN)
            yield batch.set_column(index, HASH_COLUMN, pc.add(batch.column(index), 1))

    h.source.read_bucket_keys = other_hash
    result = h.sync()
    assert (result.key_path, result.deleted) == ("full_key_scan", 1)
    assert result.key_path_reason == "the source's key hashes differ from bronze's"


def test_char_keys_are_not_hashed_by_the_server(pg_engine, pg_schema, make_config, harness_for):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {pg_schema}.codes (code char(4) PRIMARY KEY, m timestamptz)"
        )
        conn.exec_driver_sql(f"INSERT INTO {pg_schema}.codes VALUES ('a', now()), ('bb', now())")
    entry = {
        "name": "codes",
        "source": f"{pg_schema}.codes",
        "primary_key": "code",
        "modified_column": "m",
    }
    h = harness_for(make_config([entry]))
    h.sync()
    result = h.sync()
    assert result.key_path == "full_key_scan"
    assert result.key_path_reason.startswith("the source cannot hash keys as bronze does")


def test_sqlite_compares_every_key(tmp_path, make_config, harness_for):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("create table contact (id integer primary key, m timestamp)")
        conn.exec_driver_sql("insert into contact values (1, '2026-01-01'), (2, '2026-01-01')")
    entry = {
        "name": "contact",
        "source": "contact",
        "primary_key": "id",
        "modified_column": "m",
        "max_delete_fraction": 1,
    }
    h = harness_for(make_config([entry], source={"url": url}))
    h.sync()
    with engine.begin() as conn:
        conn.exec_driver_sql("delete from contact where id = 2")
    result = h.sync()
    assert (result.key_path, result.deleted) == ("full_key_scan", 1)
    assert result.key_path_reason.startswith("the source cannot hash keys as bronze does")


def test_integer_and_composite_keys_take_the_checksum_path(
    pg_engine, pg_schema, make_config, harness_for
):
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {pg_schema}.lines (ord bigint, line int, m timestamptz DEFAULT now(), "
            "PRIMARY KEY (ord, line))"
        )
        conn.exec_driver_sql(
            f"INSERT INTO {pg_schema}.lines (ord, line) SELECT g / 3, mod(g, 3) "
            "FROM generate_series(1, 600) g"
        )
    entry = {
        "name": "lines",
        "source": f"{pg_schema}.lines",
        "primary_key": ["ord", "line"],
        "modified_column": "m",
    }
    h = harness_for(make_config([{**entry, "max_delete_fraction": 1}]))
    h.sync()
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM {pg_schema}.lines WHERE ord = 7")
    result = h.sync()
    assert (result.key_path, result.deleted) == ("checksum", 3)
    deleted = h.bronze().filter(pc.field("IsDeleted"))
    assert sorted(deleted.column("line").to_pylist()) == [0, 1, 2]
    assert set(deleted.column("ord").to_pylist()) == {7}
    assert pa.types.is_integer(deleted.schema.field("ord").type)
