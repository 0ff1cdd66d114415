"""The purge window limits the date rule only; rows the source retained stay PURGE."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from bronze_sync.bronze.reader import read_state
from bronze_sync.bronze.rewrite import PURGE as PURGE_FLAG
from bronze_sync.bronze.tracking import SyncOp, live_rows
from bronze_sync.diff.classify import purge_window_open
from bronze_sync.diff.plan import PlanInput, plan_sync

TS = pa.timestamp("us", tz="UTC")
PURGE = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
RECORDED = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)


def test_window_is_open_up_to_n_days_after_recording():
    assert purge_window_open(RECORDED, 30, RECORDED + dt.timedelta(days=30))
    assert not purge_window_open(RECORDED, 30, RECORDED + dt.timedelta(days=30, seconds=1))
    assert purge_window_open(RECORDED, None, RECORDED + dt.timedelta(days=9999))
    assert purge_window_open(None, 30, RECORDED)  # recorded before the time was kept


def classify(tmp_path, now):
    source = pa.table(
        {
            "id": ["old", "kept", "live"],
            "createdon": pa.array(
                [dt.datetime(2019, 1, 1), dt.datetime(2025, 6, 1), dt.datetime(2025, 6, 1)], TS
            ),
        }
    )
    uri = str(tmp_path / "t")
    write_deltalake(uri, live_rows(source, SyncOp.INSERT, RECORDED), mode="overwrite")
    state = read_state(DeltaTable(uri), ["id"], "createdon", None)
    plan = plan_sync(
        PlanInput(
            key_columns=("id",),
            extracted=source.slice(0, 0),
            state=state,
            source_keys=pa.table({"id": ["live"]}),
            deleted_keys=None,
            last_purge=PURGE,
            now=now,
            fetch_source=lambda keys: source.slice(0, 0),
            retained_keys=pa.table({"id": ["kept"]}),
            purge_recorded=RECORDED,
            purge_window_days=30,
        )
    )
    flagged = plan.edits.flags.to_pylist()
    return {r["id"]: "PURGE" if r[PURGE_FLAG] else "DELETE" for r in flagged}


def test_inside_the_window_old_and_retained_rows_are_purged(tmp_path):
    assert classify(tmp_path, RECORDED + dt.timedelta(days=1)) == {"old": "PURGE", "kept": "PURGE"}


def test_after_the_window_old_rows_are_deleted_retained_rows_still_purged(tmp_path):
    assert classify(tmp_path, RECORDED + dt.timedelta(days=31)) == {
        "old": "DELETE",
        "kept": "PURGE",
    }
