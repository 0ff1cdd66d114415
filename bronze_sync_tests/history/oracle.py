"""An independent oracle for the row history: full Delta time travel, compared row by row.

It reads whole versions with deltalake and compares Python values; it shares no code with
bronze_sync.history (which reads only the files a version touched, by fingerprints).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

TRACKING = {"IsDeleted", "IsPurged", "DeletedDate", "PurgedDate", "LastSynced", "SyncOperation"}
HISTORY_ONLY = {
    "BronzeVersion", "RunId", "PartitionKey", "ChangedAt", "Operation", "ChangedColumns",
    "RowRemoved",
}  # fmt: skip


def _image(row: dict[str, Any]) -> dict[str, Any]:
    """Return a bronze row's compared image: source columns plus flags (null flags false)."""
    image = {k: v for k, v in row.items() if k not in TRACKING}
    image["IsDeleted"] = bool(row.get("IsDeleted"))
    image["IsPurged"] = bool(row.get("IsPurged"))
    return image


def version_rows(uri: str, version: int, keys: Sequence[str]) -> dict[tuple, dict[str, Any]]:
    """Return bronze at `version` as key -> image (empty before version 0)."""
    if version < 0:
        return {}
    rows = DeltaTable(uri, version=version).to_pyarrow_table().to_pylist()
    return {tuple(r[k] for k in keys): _image(r) for r in rows}


def expected_changes(
    uri: str, version: int, keys: Sequence[str]
) -> tuple[dict[tuple, dict[str, Any]], set[tuple]]:
    """Return the rows version `version` changed (key -> image after) and the keys it removed."""
    before = version_rows(uri, version - 1, keys)
    after = version_rows(uri, version, keys)
    changed = {}
    for key, image in after.items():
        old = before.get(key)
        if old is None or {**{c: None for c in image}, **old} != image:
            changed[key] = image
    return changed, set(before) - set(after)


def history_changes(
    history: pa.Table, version: int, keys: Sequence[str]
) -> tuple[dict[tuple, dict[str, Any]], set[tuple]]:
    """Return what the history rows of `version` say: key -> image, and removed keys."""
    changed, removed = {}, set()
    for row in history.to_pylist():
        if row["BronzeVersion"] != version:
            continue
        key = tuple(row[k] for k in keys)
        assert key not in changed and key not in removed, f"key {key} twice in v{version}"
        if row["RowRemoved"]:
            removed.add(key)
        else:
            changed[key] = {k: v for k, v in row.items() if k not in HISTORY_ONLY}
    return changed, removed


def assert_history_matches_time_travel(
    uri: str, history: pa.Table, keys: Sequence[str], first: int, last: int
) -> None:
    """Assert every version first..last has exactly the rows full time travel finds."""
    for version in range(first, last + 1):
        want_changed, want_removed = expected_changes(uri, version, keys)
        got_changed, got_removed = history_changes(history, version, keys)
        got = {k: {c: got_changed[k].get(c) for c in v} for k, v in want_changed.items()
               if k in got_changed}  # fmt: skip
        assert set(got_changed) == set(want_changed), f"v{version}: changed keys differ"
        assert got == want_changed, f"v{version}: images differ"
        assert got_removed == want_removed, f"v{version}: removed keys differ"
