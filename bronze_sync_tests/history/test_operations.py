"""Every operation lands in the row history with the right image and changed columns."""

from __future__ import annotations

from bronze_sync.history.timeline import row_timeline
from bronze_sync.metadata.pipeline_config import record_purge
from bronze_sync_tests.helpers import NOW, years_ago
from bronze_sync_tests.history.conftest import history_table, roll_back
from bronze_sync_tests.history.oracle import assert_history_matches_time_travel

SOURCE_COLUMNS = ["id", "name", "amount", "createdon", "modifiedon"]


def rows_of(h, version):
    return {r["id"]: r for r in history_table(h).to_pylist() if r["BronzeVersion"] == version}


def test_initial_load_records_every_row_as_insert_with_every_column(account, h):
    account.insert_ids(["a", "b", "c"])
    result = h.sync()
    rows = rows_of(h, 0)
    assert set(rows) == {"a", "b", "c"}
    assert {r["Operation"] for r in rows.values()} == {"INSERT"}
    assert rows["a"]["ChangedColumns"] == SOURCE_COLUMNS
    assert rows["b"]["name"] == "name b" and rows["b"]["IsDeleted"] is False
    assert rows["a"]["RunId"] and rows["a"]["ChangedAt"].tzinfo is not None
    assert (result.history_first, result.history_through, result.history_rows) == (0, 0, {0: 3})


def test_update_lists_only_the_columns_that_really_changed(account, h):
    account.insert_ids(["a", "b"])
    h.sync()
    account.update(["b"], name="renamed")
    result = h.sync(partition="2026-12-05")
    rows = rows_of(h, result.version)
    assert set(rows) == {"b"}
    assert rows["b"]["Operation"] == "UPDATE"
    assert sorted(rows["b"]["ChangedColumns"]) == ["modifiedon", "name"]
    assert rows["b"]["name"] == "renamed" and rows["b"]["PartitionKey"] == "2026-12-05"


def test_delete_purge_and_undelete_are_recorded_with_their_flags(account, h):
    account.insert_ids(["old"], created=years_ago(3))
    account.insert_ids(["gone", "kept"])
    h.sync()
    account.delete(["gone"])
    cutoff = years_ago(1)
    account.purge_before(cutoff)
    record_purge(h.meta, h.config.tables[0], cutoff, NOW)
    flagged = h.sync()
    rows = rows_of(h, flagged.version)
    assert (rows["gone"]["Operation"], rows["gone"]["ChangedColumns"]) == ("DELETE", ["IsDeleted"])
    assert rows["gone"]["IsDeleted"] is True and rows["gone"]["name"] == "name gone"
    assert (rows["old"]["Operation"], rows["old"]["ChangedColumns"]) == ("PURGE", ["IsPurged"])
    assert "kept" not in rows
    account.insert_ids(["gone"])
    back = h.sync()
    rows = rows_of(h, back.version)
    assert rows["gone"]["Operation"] == "UNDELETE" and "IsDeleted" in rows["gone"]["ChangedColumns"]
    assert rows["gone"]["IsDeleted"] is False


def test_rollback_records_every_row_it_changed_and_the_rows_it_removed(account, h):
    account.insert_ids(["a", "b"])
    h.sync()
    account.update(["a"], name="changed")
    account.delete(["b"])
    account.insert_ids(["c"])
    h.sync()
    version = roll_back(h, 0)
    rows = rows_of(h, version)
    assert {r["Operation"] for r in rows.values()} == {"ROLLBACK"}
    assert rows["a"]["name"] == "name a" and "name" in rows["a"]["ChangedColumns"]
    assert rows["b"]["IsDeleted"] is False and rows["b"]["RowRemoved"] is False
    assert rows["c"]["RowRemoved"] is True and rows["c"]["name"] == "name c"


def test_a_sync_without_changes_records_no_version(account, h):
    account.insert_ids(["a"])
    h.sync()
    result = h.sync()
    assert not result.committed
    assert history_table(h).num_rows == 1
    assert result.history_through == 0


def test_history_of_a_mixed_sequence_equals_full_time_travel(account, h):
    account.insert_ids(["a", "b", "c", "d"])
    account.insert_ids(["e"], created=years_ago(4))
    h.sync()
    account.update(["a", "b"], amount=7)
    account.delete(["c"])
    h.sync()
    account.insert_ids(["c", "f"])
    cutoff = years_ago(2)
    account.purge_before(cutoff)
    record_purge(h.meta, h.config.tables[0], cutoff, NOW)
    h.sync()
    last = roll_back(h, 1)
    account.update(["d"], name="after rollback")
    last = h.sync().version
    assert_history_matches_time_travel(str(h.delta_dir()), history_table(h), ["id"], 0, last)


def test_one_keys_timeline_through_every_operation_newest_first(account, h):
    account.insert_ids(["old"], created=years_ago(3))
    h.sync()
    account.update(["old"], name="renamed")
    h.sync()
    account.delete(["old"])
    h.sync()
    account.insert_ids(["old"], created=years_ago(3))  # it comes back
    h.sync()
    cutoff = years_ago(1)
    account.purge_before(cutoff)
    record_purge(h.meta, h.config.tables[0], cutoff, NOW)
    purged = h.sync().version
    roll_back(h, purged - 1)  # undo the purge

    timeline = row_timeline(h.store, "account", ["id"], {"id": "old"})
    assert [e.operation for e in timeline] == [
        "ROLLBACK", "PURGE", "UNDELETE", "DELETE", "UPDATE", "INSERT",
    ]  # fmt: skip
    assert [e.version for e in timeline] == [5, 4, 3, 2, 1, 0]
    changes = {e.operation: {c.column: (c.old, c.new) for c in e.changes} for e in timeline}
    assert changes["UPDATE"]["name"] == ("name old", "renamed")
    assert changes["DELETE"] == {"IsDeleted": (False, True)}
    assert changes["UNDELETE"]["IsDeleted"] == (True, False)
    assert changes["UNDELETE"]["name"] == ("renamed", "name old")
    assert changes["PURGE"] == {"IsPurged": (False, True)}
    assert changes["ROLLBACK"] == {"IsPurged": (True, False)}
    assert timeline[0].image["IsPurged"] is False and not timeline[0].removed
    assert all(e.run_id and e.changed_at.tzinfo is not None for e in timeline)
    assert timeline[0].run_id.startswith("rollback-")
    assert [e.changed_at for e in timeline] == sorted(
        (e.changed_at for e in timeline), reverse=True
    )
