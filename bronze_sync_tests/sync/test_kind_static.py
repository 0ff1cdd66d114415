"""kind: static — read only when the source's content fingerprint changed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync.sources.sql import SqlSource
from bronze_sync_tests.rollback.scenario import checkpoint
from bronze_sync_tests.sync.children import roll_back, unaudited_versions
from bronze_sync_tests.sync.kind_tables import currency

RATES = [
    {"code": "EUR", "name": "Euro", "decimals": 2},
    {"code": "USD", "name": "US dollar", "decimals": 2},
    {"code": "JPY", "name": "Yen", "decimals": 0},
]


@pytest.fixture
def source(pg_engine, pg_schema):
    table = currency(pg_engine, pg_schema)
    table.insert(RATES)
    return table


def harness(source, make_config, harness_for, mode="replace", fast_path="off"):
    entry = {
        "name": "currency",
        "source": source.source,
        "primary_key": "code",
        "kind": "static",
        "static_mode": mode,
        "max_delete_fraction": 0.9,
    }
    return harness_for(make_config([entry], source={"fast_path": fast_path}))


def statements_on(h, table: str) -> list[str]:
    """Start recording the SQL the harness's source sends that names `table`."""
    seen: list[str] = []
    assert isinstance(h.source, SqlSource)

    def record(conn, cursor, statement, *args):
        if table in statement:
            seen.append(" ".join(statement.split()))

    sa.event.listen(h.source._engine, "before_cursor_execute", record)
    return seen


def held(h):
    return {r["code"]: r for r in h.bronze().to_pylist()}


def test_unchanged_source_is_not_read_and_not_committed(source, make_config, harness_for):
    h = harness(source, make_config, harness_for)
    h.sync()
    version = h.delta().version()
    sent = statements_on(h, "currency")

    result = h.sync()

    assert (result.mode, result.committed) == ("skipped", False)
    assert h.delta().version() == version
    # Only the fingerprint (count + md5 of every row, computed by PostgreSQL) reached the table:
    # no SELECT of its rows.
    assert len(sent) == 1 and "md5(string_agg(" in sent[0], sent
    audit = h.meta.read(SYNC_AUDIT_LOG).to_pylist()
    skipped = [r for r in audit if r["Operation"] == "DataSync" and r["Status"] == "Skipped"]
    assert len(skipped) == 1 and "unchanged" in skipped[0]["Notes"]
    assert unaudited_versions(h) == []


def test_changed_source_is_read_and_mirrored_in_replace_mode(source, make_config, harness_for):
    h = harness(source, make_config, harness_for)
    h.sync()
    t = source.table
    source.run(t.update().where(t.c.code == "JPY").values(name="Japanese yen"))
    source.run(t.delete().where(t.c.code == "USD"))
    source.insert([{"code": "CHF", "name": "Swiss franc", "decimals": 2}])

    result = h.sync()

    assert (result.inserted, result.updated, result.deleted) == (1, 1, 1)
    rows = held(h)
    assert rows["JPY"]["name"] == "Japanese yen" and rows["USD"]["IsDeleted"]
    assert h.state()["SourceFingerprint"] == result.fingerprint
    assert h.state()["FingerprintVersion"] == h.delta().version()
    assert h.sync().mode == "skipped"


def test_upsert_mode_never_flags_vanished_rows(source, make_config, harness_for):
    h = harness(source, make_config, harness_for, mode="upsert")
    h.sync()
    t = source.table
    source.run(t.delete().where(t.c.code == "USD"))
    source.run(t.update().where(t.c.code == "EUR").values(decimals=3))

    result = h.sync()

    assert (result.updated, result.deleted) == (1, 0)
    rows = held(h)
    assert not rows["USD"]["IsDeleted"] and rows["EUR"]["decimals"] == 3


def test_rolled_back_bronze_is_read_again_though_the_source_did_not_change(
    source, make_config, harness_for
):
    h = harness(source, make_config, harness_for)
    h.sync()
    checkpoint(h, "first")
    t = source.table
    source.run(t.update().where(t.c.code == "EUR").values(name="euro"))
    h.sync()
    assert roll_back(h, "first").success
    assert held(h)["EUR"]["name"] == "Euro"

    result = h.sync()  # same fingerprint as the last sync, but bronze is not what it made

    assert result.mode == "full" and held(h)["EUR"]["name"] == "euro"


def test_sqlite_source_fingerprints_a_full_read(tmp_path, make_config, harness_for):
    url = f"sqlite:///{tmp_path / 'ref.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("create table currency (code text primary key, name text)")
        conn.exec_driver_sql("insert into currency values ('EUR', 'Euro'), ('USD', 'Dollar')")
    entry = {"name": "currency", "source": "currency", "primary_key": "code", "kind": "static"}
    h = harness_for(make_config([entry], source={"url": url}))
    first = h.sync()
    assert first.fingerprint and first.fingerprint.startswith("rows:2:")
    assert h.sync().mode == "skipped"
    with engine.begin() as conn:
        conn.exec_driver_sql("update currency set name = 'EURO' where code = 'EUR'")
    assert h.sync().updated == 1
