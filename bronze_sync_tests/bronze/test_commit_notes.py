"""Commit notes and userMetadata: bronze_sync's fields for commits whose engine dropped them."""

from __future__ import annotations

import json

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from bronze_sync.bronze.commit import commit_fields, commit_properties
from bronze_sync.bronze.commit_notes import history, remove_note, write_note


def test_note_fills_the_unmarked_commit_of_its_operation_only(tmp_path):
    uri = str(tmp_path / "t")
    write_deltalake(
        uri, pa.table({"id": [1]}), commit_properties=commit_properties({"run_id": "a"})
    )
    write_deltalake(uri, pa.table({"id": [2]}), mode="append")  # no bronze_sync metadata
    write_note(uri, None, 1, "WRITE", {"run_id": "b", "inserted": 1})
    write_note(uri, None, 0, "WRITE", {"run_id": "forged"})  # version 0 has its own fields
    fields = {int(i["version"]): commit_fields(i) for i in history(DeltaTable(uri))}
    assert fields[1] == {"run_id": "b", "inserted": 1}
    assert fields[0] == {"run_id": "a"}


def test_note_for_another_operation_is_ignored_and_removed_notes_are_gone(tmp_path):
    uri = str(tmp_path / "t")
    write_deltalake(uri, pa.table({"id": [1]}))
    write_note(uri, None, 0, "MERGE", {"run_id": "b"})
    assert commit_fields(history(DeltaTable(uri))[0]) == {}
    write_note(uri, None, 0, "WRITE", {"run_id": "b"})
    assert commit_fields(history(DeltaTable(uri))[0]) == {"run_id": "b"}
    remove_note(uri, None, 0)
    assert commit_fields(history(DeltaTable(uri))[0]) == {}


def test_user_metadata_json_carries_the_fields_like_custom_metadata():
    info = {"userMetadata": json.dumps({"bronze_sync.run_id": "r", "other": 1})}
    assert commit_fields(info) == {"run_id": "r"}
    assert commit_fields({"userMetadata": "not json"}) == {}
