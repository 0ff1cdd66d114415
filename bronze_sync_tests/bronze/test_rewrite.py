"""Copy-on-write commits: only files holding changed rows are rewritten, in one commit."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, WriterProperties, write_deltalake

from bronze_sync.bronze.file_stats import file_stats
from bronze_sync.bronze.reader import read_state
from bronze_sync.bronze.rewrite import FRAGMENT, OP, PURGE, RowEdits, TableChange, rewrite_commit
from bronze_sync.bronze.tracking import SyncOp, live_rows
from bronze_sync.errors import CommitConflictError
from bronze_sync.rows.keys import positions

NOW = dt.datetime(2026, 11, 23, 6, tzinfo=dt.UTC)
EARLIER = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.fixture
def table(tmp_path):
    uri = str(tmp_path / "t")
    for ids in (["a", "b", "c"], ["d", "e"]):
        data = pa.table({"id": ids, "v": list(range(len(ids)))})
        write_deltalake(uri, live_rows(data, SyncOp.INSERT, EARLIER), mode="append")
    return DeltaTable(uri)


def edits(table, upserts=(), ops=(), flags=(), purge=(), inserts=()):
    state = read_state(table, ["id"], None, None)
    up = live_rows(
        pa.table(
            {"id": [u[0] for u in upserts], "v": [u[1] for u in upserts]},
            schema=pa.schema([("id", pa.string()), ("v", pa.int64())]),
        ),
        SyncOp.UPDATE,
        NOW,
    )
    up = up.set_column(
        up.schema.get_field_index("SyncOperation"),
        "SyncOperation",
        pa.array(list(ops) or [SyncOp.UPDATE.value] * up.num_rows, pa.string()),
    )
    up = up.append_column(OP, up.column("SyncOperation"))
    where = positions(up, state.rows, ["id"])
    up = up.append_column(FRAGMENT, state.rows.column("__bronze_sync_fragment").take(where))
    fl = pa.table(
        {"id": pa.array(list(flags), pa.string()), PURGE: pa.array(list(purge), pa.bool_())}
    )
    fl = fl.append_column(
        FRAGMENT,
        state.rows.column("__bronze_sync_fragment").take(positions(fl, state.rows, ["id"])),
    )
    ins = live_rows(
        pa.table(
            {"id": [i[0] for i in inserts], "v": [i[1] for i in inserts]},
            schema=pa.schema([("id", pa.string()), ("v", pa.int64())]),
        ),
        SyncOp.INSERT,
        NOW,
    )
    return RowEdits(upserts=up, flags=fl, inserts=ins)


def rows(table):
    return {r["id"]: r for r in DeltaTable(table.table_uri).to_pyarrow_table().to_pylist()}


def test_update_rewrites_only_the_file_holding_the_row(table):
    result = rewrite_commit(table, edits(table, upserts=[("d", 99)]), ["id"], NOW, {"run_id": "r"})
    assert (result.updated, result.files_rewritten, result.files_added) == (1, 1, 1)
    data = rows(table)
    assert (
        data["d"]["v"] == 99
        and data["d"]["SyncOperation"] == "UPDATE"
        and data["d"]["LastSynced"] == NOW
    )
    assert data["a"]["LastSynced"] == EARLIER and len(data) == 5
    assert DeltaTable(table.table_uri).history(1)[0]["bronze_sync.run_id"] == "r"


def test_unchanged_candidates_are_not_rewritten(table):
    result = rewrite_commit(table, edits(table, upserts=[("a", 0), ("d", 0)]), ["id"], NOW, {})
    assert (result.committed, result.unchanged, result.version) == (False, 2, 1)


def test_flags_mark_rows_deleted_or_purged_in_place(table):
    result = rewrite_commit(
        table, edits(table, flags=["b", "e"], purge=[False, True]), ["id"], NOW, {}
    )
    data = rows(table)
    assert result.files_rewritten == 2
    assert (data["b"]["IsDeleted"], data["b"]["IsPurged"], data["b"]["SyncOperation"]) == (
        True,
        False,
        "DELETE",
    )
    assert data["b"]["DeletedDate"] == NOW and data["b"]["PurgedDate"] is None
    assert (data["e"]["IsDeleted"], data["e"]["IsPurged"], data["e"]["SyncOperation"]) == (
        False,
        True,
        "PURGE",
    )
    assert data["e"]["PurgedDate"] == NOW and data["a"]["IsDeleted"] is False


def test_undelete_clears_flags_and_inserts_go_to_a_new_file(table):
    rewrite_commit(table, edits(table, flags=["c"], purge=[False]), ["id"], NOW, {})
    table = DeltaTable(table.table_uri)
    result = rewrite_commit(
        table,
        edits(table, upserts=[("c", 2)], ops=["UNDELETE"], inserts=[("z", 7)]),
        ["id"],
        NOW,
        {},
    )
    data = rows(table)
    assert (result.undeleted, result.files_rewritten, result.files_added) == (1, 1, 2)
    assert data["c"]["IsDeleted"] is False and data["c"]["DeletedDate"] is None
    assert data["c"]["SyncOperation"] == "UNDELETE" and data["z"]["v"] == 7 and len(data) == 6


def test_concurrent_rewrite_of_the_same_file_conflicts(table):
    stale = DeltaTable(table.table_uri)
    rewrite_commit(table, edits(table, upserts=[("a", 50)]), ["id"], NOW, {})
    with pytest.raises(CommitConflictError):
        rewrite_commit(stale, edits(stale, upserts=[("b", 60)]), ["id"], NOW, {})
    assert rows(table)["a"]["v"] == 50


def test_stats_bounds_are_exact_or_widened():
    ts = pa.timestamp("us", tz="UTC")
    data = pa.table(
        {
            "n": [3, 1, None],
            "at": pa.array(
                [
                    dt.datetime(2024, 1, 1, 0, 0, 0, 1500, tzinfo=dt.UTC),
                    dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
                    None,
                ],
                ts,
            ),
            "s": ["x", "y", "z"],
        }
    )
    stats = json.loads(file_stats(data))
    assert stats["numRecords"] == 3 and stats["nullCount"] == {"n": 1, "at": 1, "s": 0}
    assert stats["minValues"] == {"n": 1, "at": "2024-01-01T00:00:00.001Z"}
    assert stats["maxValues"] == {"n": 3, "at": "2024-01-02T00:00:00.000Z"}


def test_files_of_many_row_groups_are_rewritten_group_by_group(tmp_path):
    uri = str(tmp_path / "groups")
    ids = [f"r{i:02d}" for i in range(10)]
    data = live_rows(pa.table({"id": ids, "v": list(range(10))}), SyncOp.INSERT, EARLIER)
    write_deltalake(uri, data, writer_properties=WriterProperties(max_row_group_size=3))
    table = DeltaTable(uri)
    fragment = next(iter(table.to_pyarrow_dataset().get_fragments()))
    assert fragment.metadata.num_row_groups == 4
    # Row 1 sits in the first group, rows 5 and 9 in later ones: row numbers are per file.
    change = edits(table, upserts=[("r05", 50), ("r01", 1)], flags=["r09"], purge=[True])
    result = rewrite_commit(table, change, ["id"], NOW, {})
    assert (result.updated, result.unchanged, result.files_rewritten) == (1, 1, 1)
    data = rows(table)
    assert len(data) == 10 and data["r05"]["v"] == 50 and data["r05"]["SyncOperation"] == "UPDATE"
    assert data["r09"]["IsPurged"] and data["r01"]["SyncOperation"] == "INSERT"
    added = pa.table(DeltaTable(uri).get_add_actions(flatten=True)).to_pylist()
    assert [a["num_records"] for a in added] == [10]
    assert (added[0]["min.v"], added[0]["max.v"]) == (0, 50)


def test_two_writers_inserting_from_the_same_version_cannot_both_commit(table):
    # Delta's optimistic concurrency lets two blind appends both land: the same inserts twice.
    first, second = DeltaTable(table.table_uri), DeltaTable(table.table_uri)
    rewrite_commit(first, edits(first, inserts=[("x", 1)]), ["id"], NOW, {})
    before = sorted(p.name for p in Path(table.table_uri).glob("*.parquet"))
    with pytest.raises(CommitConflictError, match="nothing was committed"):
        rewrite_commit(second, edits(second, inserts=[("x", 1)]), ["id"], NOW, {}, token="lost")
    ids = [r["id"] for r in DeltaTable(table.table_uri).to_pyarrow_table().to_pylist()]
    assert ids.count("x") == 1
    # the losing writer removed the file it wrote
    assert sorted(p.name for p in Path(table.table_uri).glob("*.parquet")) == before


def test_a_table_change_rewrites_every_file_with_the_new_schema_in_one_commit(table):
    schema = pa.schema([*table.to_pyarrow_dataset().schema, pa.field("extra", pa.int32())])
    fill = pa.table({"id": ["a", "d"], "extra": pa.array([7, 8], pa.int32())})
    version = table.version()

    result = rewrite_commit(
        table, RowEdits.none(), ["id"], NOW, {}, change=TableChange(schema, fill, ("extra",))
    )

    assert (result.version, result.filled, result.files_rewritten) == (version + 1, 2, 2)
    data = rows(table)
    assert {k: r["extra"] for k, r in data.items()} == {
        "a": 7,
        "b": None,
        "c": None,
        "d": 8,
        "e": None,
    }
    assert data["a"]["SyncOperation"] == "UPDATE" and data["b"]["SyncOperation"] == "INSERT"
    assert DeltaTable(table.table_uri).schema().to_arrow().field("extra") is not None
