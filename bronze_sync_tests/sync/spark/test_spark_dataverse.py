"""Dataverse tables on the spark engine: change tracking, retention purges, expired tokens.

One emulator, two bronze tables: one synced natively, one on a local Sail server; after
every sync both hold the same rows, and the spark one read only the change feed.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bronze_sync.metadata.pipeline_config import read_state
from bronze_sync_tests.dataverse import (
    account_row,
    account_table,
    dataverse_config,
    emulator,  # noqa: F401  # the fixture
    key,
)
from bronze_sync_tests.helpers import NOW, years_ago

pytestmark = pytest.mark.slow  # an emulator and two engines per sync
COUNTED = ("inserted", "updated", "deleted", "purged", "undeleted")
KEY_SCAN = "$select=accountid&"


@pytest.fixture
def twins(emulator, tmp_path, harness_for, sail_remote):  # noqa: F811
    spark = account_table(engine="spark", spark={"remote": sail_remote})
    native_h = harness_for(dataverse_config(emulator, tmp_path / "native", page_size=7))
    spark_h = harness_for(dataverse_config(emulator, tmp_path / "spark", [spark], page_size=7))
    return native_h, spark_h


def sync_both(twins, hours: int):
    native_h, spark_h = twins
    native_h.now = spark_h.now = NOW + dt.timedelta(hours=hours)
    native, spark = native_h.sync(), spark_h.sync()
    assert [getattr(spark, c) for c in COUNTED] == [getattr(native, c) for c in COUNTED]
    assert (spark.mode, spark.full_key_scan) == (native.mode, native.full_key_scan)
    assert spark_h.bronze().to_pylist() == native_h.bronze().to_pylist()
    return native, spark


def token(h) -> str:
    return str(read_state(h.meta, "account")["ChangeToken"])


def test_daily_changes_come_from_the_change_token_without_a_key_scan(
    emulator,  # noqa: F811
    twins,
):
    emulator.insert("account", [account_row(i, created=years_ago(0.5)) for i in range(12)])
    sync_both(twins, 0)
    spark_h = twins[1]
    first = token(spark_h)
    assert "$deltatoken=" in first  # the cluster-written initial load saved its position
    emulator.update("account", key(1), name="renamed")
    emulator.insert("account", [account_row(100)])
    emulator.delete("account", [key(2)])
    scans = len(emulator.api_requests(KEY_SCAN))
    _, spark = sync_both(twins, 1)
    assert spark.engine == "spark" and spark.mode == "changes" and not spark.full_key_scan
    assert (spark.inserted, spark.updated, spark.deleted) == (1, 1, 1)
    assert len(emulator.api_requests(KEY_SCAN)) == scans  # neither engine scanned keys
    assert token(spark_h) != first

    emulator.insert("account", [account_row(2, name="back")])  # deleted, then created anew
    _, spark = sync_both(twins, 2)
    assert spark.undeleted == 1


def test_retained_rows_are_purges_and_an_expired_token_falls_back_to_a_full_read(
    emulator,  # noqa: F811
    twins,
):
    emulator.insert("account", [account_row(i, created=years_ago(0.5)) for i in range(12)])
    sync_both(twins, 0)
    emulator.retain("account", [key(3), key(4)])
    sync_both(twins, 1)  # bronze sees msft_datastate = 1
    emulator.remove_retained("account")
    emulator.delete("account", [key(5)])
    _, spark = sync_both(twins, 2)
    assert (spark.mode, spark.purged, spark.deleted) == ("changes", 2, 1)

    emulator.delete("account", [key(6)])
    emulator.update("account", key(7), name="changed")
    emulator.expire_change_tokens("account")
    _, spark = sync_both(twins, 3)
    assert (spark.mode, spark.full_key_scan, spark.deleted, spark.updated) == ("full", True, 1, 1)
    emulator.delete("account", [key(8)])
    _, spark = sync_both(twins, 4)
    assert (spark.mode, spark.deleted) == ("changes", 1)  # the new token works
