"""Planning in spilled key partitions gives exactly the in-memory plan."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import hypothesis.strategies as st
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from hypothesis import HealthCheck, given, settings

from bronze_sync.bronze.reader import read_state
from bronze_sync.bronze.rewrite import FRAGMENT, OP, PURGE, ROW
from bronze_sync.bronze.tracking import IS_DELETED, SyncOp, live_rows
from bronze_sync.diff.plan import PlanInput, SyncPlan, plan_sync
from bronze_sync.diff.plan_parts import plan_in_parts
from bronze_sync.diff.spill import KeySpill

TS = pa.timestamp("us", tz="UTC")
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
PURGE_DATE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _rows(ids: list[int], version: int) -> pa.Table:
    return pa.table(
        {
            "id": pa.array([f"k{i:05d}" for i in ids], pa.string()),
            "part": pa.array([i % 3 for i in ids], pa.int32()),
            "createdon": pa.array([dt.datetime(2024, 1 + i % 12, 1) for i in ids], TS),
            "modifiedon": pa.array([dt.datetime(2025, 6, 1 + version)] * len(ids), TS),
            "value": pa.array([f"v{version}-{i}" for i in ids], pa.string()),
        }
    )


def _bronze(tmp_path, ids: list[int], deleted: set[int]) -> DeltaTable:
    uri = str(tmp_path / "bronze")
    rows = live_rows(_rows(ids, 0), SyncOp.INSERT, NOW - dt.timedelta(days=1))
    flags = pa.array([i in deleted for i in ids])
    rows = rows.set_column(rows.schema.get_field_index(IS_DELETED), IS_DELETED, flags)
    # Several files, so rows are located by (file, row) as in a real table.
    for start in range(0, rows.num_rows, 7):
        write_deltalake(uri, rows.slice(start, 7), mode="append")
    return DeltaTable(uri)


def _summary(plan: SyncPlan) -> dict:
    def keyed(table: pa.Table, *cols: str) -> list:
        return sorted(tuple(r[c] for c in ("id", "part", *cols)) for r in table.to_pylist())

    return {
        "upserts": keyed(plan.edits.upserts, OP, FRAGMENT, ROW, "value"),
        "flags": keyed(plan.edits.flags, PURGE, FRAGMENT, ROW),
        "inserts": keyed(plan.edits.inserts, "value"),
        "counts": {k: v for k, v in plan.counts.items() if v},
        "samples": {k: keyed(v) for k, v in plan.samples.items() if v.num_rows},
        "active_before": plan.active_before,
    }


IDS = st.sets(st.integers(0, 120), max_size=60)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bronze=IDS,
    deleted=IDS,
    source=IDS,
    changed=IDS,
    parts=st.sampled_from([2, 4, 16]),
    tracked=st.booleans(),
)
def test_partitioned_plan_equals_in_memory_plan(
    tmp_path_factory, bronze, deleted, source, changed, parts, tracked
):
    tmp_path = tmp_path_factory.mktemp("parts")
    bronze_ids = sorted(bronze) or [0]
    delta = _bronze(tmp_path, bronze_ids, deleted & set(bronze_ids))
    source_rows = _rows(sorted(source), 1)
    extracted = _rows(sorted(changed & source), 1)
    keys = ("id", "part")  # composite, so partitions hash every key column
    inp = PlanInput(
        key_columns=keys,
        extracted=extracted,
        state=read_state(delta, keys, "createdon", "modifiedon"),
        source_keys=source_rows.select(list(keys)) if tracked else None,
        deleted_keys=None,
        last_purge=PURGE_DATE,
        now=NOW,
        fetch_source=lambda wanted: source_rows.filter(
            pa.compute.is_in(source_rows.column("id"), wanted.column("id"))
        ),
    )
    expected = _summary(plan_sync(inp))

    state_spill = KeySpill(tmp_path, "state", keys, parts)
    state = read_state(delta, keys, "createdon", "modifiedon", state_spill.add)
    state_spill.close(state.rows.schema)
    key_spill = KeySpill(tmp_path, "keys", keys, parts)
    key_spill.add(source_rows.select(list(keys)))
    key_spill.close(source_rows.select(list(keys)).schema)
    partitioned = plan_in_parts(
        replace(inp, state=state), state_spill, key_spill if tracked else None
    )
    assert state.rows.num_rows == 0 and state_spill.rows == len(bronze_ids)
    assert _summary(partitioned) == expected
