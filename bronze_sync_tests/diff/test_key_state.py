"""The key tally a plan's edits compute equals the tally of the rows they leave (property)."""

from __future__ import annotations

import datetime as dt

import hypothesis.strategies as st
import numpy as np
import pyarrow as pa
from hypothesis import given, settings

from bronze_sync.bronze.reader import FRAGMENT as STATE_FRAGMENT
from bronze_sync.bronze.reader import KEY_HASH
from bronze_sync.bronze.reader import ROW as STATE_ROW
from bronze_sync.bronze.rewrite import FRAGMENT, ROW, RowEdits
from bronze_sync.diff.key_state import KeyState, KeyTally, tally_after, tally_extracted, tally_rows
from bronze_sync.rows.pghash import hash_keys

BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
UTC_US = pa.timestamp("us", tz="UTC")
SINCE_US = int(
    (BASE + dt.timedelta(minutes=50) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds() * 1e6
)
MINUTES = st.one_of(st.none(), st.integers(0, 100))
# One bronze row: (active?, modified minute or None); per row, what the sync does to it.
ROWS = st.lists(
    st.tuples(st.booleans(), MINUTES, st.sampled_from(["keep", "upsert", "flag"]), MINUTES)
)


def stamp(minute: int | None) -> dt.datetime | None:
    return None if minute is None else BASE + dt.timedelta(minutes=minute)


def state_table(rows: list[tuple[bool, int | None, str, int | None]]) -> pa.Table:
    ids = pa.array([f"k{i}" for i in range(len(rows))], pa.string())
    table = pa.table(
        {
            "id": ids,
            "modifiedon": pa.array([stamp(r[1]) for r in rows], UTC_US),
            "IsDeleted": pa.array([not r[0] for r in rows], pa.bool_()),
            "IsPurged": pa.array([False] * len(rows), pa.bool_()),
            STATE_FRAGMENT: pa.array([i % 3 for i in range(len(rows))], pa.int32()),
            STATE_ROW: pa.array([i // 3 for i in range(len(rows))], pa.int32()),
        }
    )
    return table.append_column(KEY_HASH, pa.array(hash_keys(table, ["id"])))


def edits_for(state: pa.Table, rows: list, inserts: list[int | None]) -> RowEdits:
    def located(indexes: list[int], extra: dict) -> pa.Table:
        picked = state.take(pa.array(indexes, pa.int64()))
        columns = {"id": picked.column("id"), **extra}
        columns[FRAGMENT] = picked.column(STATE_FRAGMENT)
        columns[ROW] = picked.column(STATE_ROW)
        return pa.table(columns)

    ups = [i for i, r in enumerate(rows) if r[2] == "upsert"]
    # A vanished key is flagged only while active (the planner never flags an inactive row).
    flags = [i for i, r in enumerate(rows) if r[2] == "flag" and r[0]]
    new_times = pa.array([stamp(rows[i][3]) for i in ups], UTC_US)
    return RowEdits(
        upserts=located(ups, {"modifiedon": new_times}),
        flags=located(flags, {"__purge": pa.array([False] * len(flags))}),
        inserts=pa.table(
            {
                "id": pa.array([f"new{i}" for i in range(len(inserts))], pa.string()),
                "modifiedon": pa.array([stamp(m) for m in inserts], UTC_US),
            }
        ),
    )


def rows_left(state: pa.Table, rows: list, edits: RowEdits) -> pa.Table:
    """Return the active rows after the edits, applied one by one (the slow way)."""
    left = {}
    for i, (active, _, action, new) in enumerate(rows):
        if action == "upsert":
            left[f"k{i}"] = stamp(new)
        elif active and action == "keep":
            left[f"k{i}"] = state.column("modifiedon")[i].as_py()
    for key, when in zip(
        edits.inserts.column("id").to_pylist(),
        edits.inserts.column("modifiedon").to_pylist(),
        strict=True,
    ):
        left[key] = when
    return pa.table(
        {
            "id": pa.array(list(left), pa.string()),
            "modifiedon": pa.array(list(left.values()), UTC_US),
        }
    )


@settings(max_examples=200, deadline=None)
@given(rows=ROWS, inserts=st.lists(MINUTES, max_size=5))
def test_the_tally_of_edits_equals_the_tally_of_the_rows_they_leave(rows, inserts):
    state = state_table(rows)
    edits = edits_for(state, rows, inserts)
    computed = tally_after(state, edits, ("id",), "modifiedon", SINCE_US)
    left = rows_left(state, rows, edits)
    expected = tally_rows(hash_keys(left, ["id"]), left.column("modifiedon"), SINCE_US)
    assert (computed.active, computed.active_xor) == (expected.active, expected.active_xor)
    assert (computed.window, computed.window_xor) == (expected.window, expected.window_xor)


def test_extracted_rows_match_the_window_tally_of_the_same_rows():
    rows = pa.table(
        {
            "id": pa.array(["a", "b"]),
            "modifiedon": pa.array([stamp(60), stamp(70)], UTC_US),
        }
    )
    tally = tally_rows(hash_keys(rows, ["id"]), rows.column("modifiedon"), SINCE_US)
    assert tally_extracted(rows, ("id",), "modifiedon") == (2, tally.window_xor, True)
    # Another modified time for one key changes the checksum; a missing time is reported.
    moved = rows.set_column(1, "modifiedon", pa.array([stamp(60), stamp(71)], UTC_US))
    assert tally_extracted(moved, ("id",), "modifiedon")[1] != tally.window_xor
    blank = rows.set_column(1, "modifiedon", pa.array([stamp(60), None], UTC_US))
    assert tally_extracted(blank, ("id",), "modifiedon")[2] is False


def test_tallies_of_disjoint_row_sets_add_up():
    hashes = np.array([3, 5, 9, 17], dtype=np.int64)
    times = pa.array([stamp(m) for m in (10, 60, 70, None)], UTC_US)
    whole = tally_rows(hashes, times, SINCE_US)
    parts = tally_rows(hashes[:2], times[:2], SINCE_US) + tally_rows(
        hashes[2:], times[2:], SINCE_US
    )
    assert parts == whole and (whole.active, whole.window) == (4, 2)
    assert KeyTally() + whole == whole


def test_a_key_state_survives_its_json():
    state = KeyState(
        "id-1", 7, ("id",), "modifiedon", 60, SINCE_US, KeyTally(3, -5, 1, 9, None), {"active": 3}
    )
    assert KeyState.from_json(state.to_json()) == state
