"""Commit notes: bronze_sync's commit metadata for a commit whose engine could not carry it.

Sail's MERGE (0.7) writes no user metadata into its commit, so a spark-engine sync writes
its fields to `{table}/_bronze_sync_notes/{version}.json` BEFORE it commits (an intent),
and readers of the log fill a note's fields into the commit it names. A note only applies
to a commit of the operation it expects that carries no bronze_sync metadata of its own.
Databricks and Delta Spark carry the same fields in `userMetadata` (see `commit_fields`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from typing import Any

import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake._internal import DeltaFileSystemHandler
from deltalake.fs import DeltaStorageHandler

from bronze_sync.bronze.commit import commit_fields

NOTES_DIR = "_bronze_sync_notes"  # `_`: Delta readers, VACUUM and orphan clean-up skip it


def note_path(version: int) -> str:
    """Return a note's path relative to its table."""
    return f"{NOTES_DIR}/{version:020d}.json"


def write_note(
    uri: str,
    options: Mapping[str, str] | None,
    version: int,
    operation: str,
    fields: Mapping[str, Any],
) -> None:
    """Record that version `version` (a `operation` commit) carries `fields`."""
    body = json.dumps({"operation": operation, "fields": dict(fields)}, default=str).encode()
    if "://" not in uri:
        path = os.path.join(uri, note_path(version))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as file:
            file.write(body)
        return
    # deltalake's writable handler: DeltaStorageHandler's output streams refuse writes.
    stream = DeltaFileSystemHandler(uri, dict(options) if options else None).open_output_stream(
        note_path(version), None
    )
    stream.write(body)
    stream.close()  # type: ignore[attr-defined]  # the upload happens here


def read_note(uri: str, options: Mapping[str, str] | None, version: int) -> dict[str, Any] | None:
    """Return the note of version `version` (None when there is none)."""
    try:
        with _filesystem(uri, options).open_input_stream(note_path(version)) as stream:
            return dict(json.loads(stream.read()))
    except (OSError, ValueError):
        return None


def annotated(delta: DeltaTable, infos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return history entries with the fields of their notes filled in."""
    options = getattr(delta, "_storage_options", None)
    if not any(_unmarked(info) for info in infos) or not _has_notes(delta.table_uri, options):
        return infos
    return [_with_note(delta.table_uri, options, info) for info in infos]


def history(delta: DeltaTable, limit: int | None = None) -> list[dict[str, Any]]:
    """Return `delta.history(limit)` with commit notes filled in."""
    return annotated(delta, delta.history(limit))


def _unmarked(info: Mapping[str, Any]) -> bool:
    return not commit_fields(info)


def _with_note(uri: str, options: Mapping[str, str] | None, info: dict[str, Any]) -> dict[str, Any]:
    if not _unmarked(info) or "version" not in info:
        return info
    note = read_note(uri, options, int(info["version"]))
    if note is None or note.get("operation") != info.get("operation"):
        return info
    return {**info, **{f"bronze_sync.{k}": v for k, v in note.get("fields", {}).items()}}


def _has_notes(uri: str, options: Mapping[str, str] | None) -> bool:
    found = _filesystem(uri, options).get_file_info(NOTES_DIR)
    return found.type == pafs.FileType.Directory


def _filesystem(uri: str, options: Mapping[str, str] | None) -> pafs.FileSystem:
    return pafs.PyFileSystem(DeltaStorageHandler(uri, dict(options) if options else None))


def remove_note(uri: str, options: Mapping[str, str] | None, version: int) -> None:
    """Delete the note of a commit that did not land (best effort)."""
    with contextlib.suppress(Exception):
        _filesystem(uri, options).delete_file(note_path(version))
