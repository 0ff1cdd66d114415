"""Keep a table's history complete: record each bronze commit, repair gaps, backfill.

Callers hold the table's lease (one writer per table), so the coverage read here is still
true when the append commits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from deltalake import DeltaTable

from bronze_sync.bronze import commit_notes as notes
from bronze_sync.bronze.commit import commit_fields
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.errors import BronzeError, CommitConflictError
from bronze_sync.faults import fault_point
from bronze_sync.history.derive import (
    VersionChanges,
    derive_version,
    oldest_rebuildable,
    rebuildable,
    version_identity,
)
from bronze_sync.history.spool import ChangeSpool
from bronze_sync.history.store import Coverage, append_versions, coverage_of, open_history

log = logging.getLogger(__name__)


@dataclass
class HistoryOutcome:
    """What one history update recorded."""

    table: str
    versions: list[int] = field(default_factory=list)  # bronze versions appended
    derived: list[int] = field(default_factory=list)  # of those, rebuilt from the Delta log
    rows: dict[int, int] = field(default_factory=dict)
    coverage: Coverage | None = None

    def describe(self) -> str:
        """Return one line for progress output and audit notes."""
        if not self.versions:
            return "history already complete"
        rebuilt = f" ({len(self.derived)} rebuilt from the Delta log)" if self.derived else ""
        return (
            f"history: {sum(self.rows.values()):,} row(s) for version(s) "
            f"{self.versions[0]}..{self.versions[-1]}{rebuilt}"
        )


def record_history(
    store: BronzeStore,
    table: str,
    keys: Sequence[str],
    version: int,
    spool: ChangeSpool | None = None,
    reason: str = "sync",
) -> HistoryOutcome:
    """Bring the history of `table` up to bronze `version` in one history commit.

    `spool` holds the rows of `version` as the live commit captured them; every other
    missing version (a crash before its history append) is rebuilt from the Delta log. A
    table whose bronze predates history starts its history at `version`.
    """
    try:
        return _record_once(store, table, keys, version, spool, reason)
    except CommitConflictError:
        # Another writer appended first (a lease lost mid-run): decide again from its state.
        return _record_once(store, table, keys, version, spool, reason)


def _record_once(
    store: BronzeStore,
    table: str,
    keys: Sequence[str],
    version: int,
    spool: ChangeSpool | None,
    reason: str,
) -> HistoryOutcome:
    outcome = HistoryOutcome(table)
    history = open_history(store, table)
    coverage = coverage_of(history, store.options()) if history is not None else None
    uri = store.table_uri(table)
    latest = store.open(uri)
    if coverage is not None and latest is not None and coverage.through > latest.version():
        raise BronzeError(
            f"the history records bronze versions up to {coverage.through} but the Delta log "
            f"ends at {latest.version()}: log entries were lost (see `bronze-sync audit "
            "accept-lost-versions`)",
            table=table,
        )
    if coverage is not None and coverage.through >= version:
        outcome.coverage = coverage
        return outcome
    # Loaded at the newest version: deltalake's history() numbers entries from the newest
    # commit down whatever version was loaded (see bronze.commit.read_commit_info).
    delta = latest
    if delta is None or delta.version() < version:
        raise BronzeError(f"no bronze table at {uri} with version {version}", table=table)
    if coverage is None:
        tracked = first_tracked_version(delta)
        # Versions VACUUM already removed cannot be rebuilt: start after them (a backfill
        # then reports them) rather than failing every sync.
        start = None if tracked is None else oldest_rebuildable(uri, store.options(), version)
        if start is not None and tracked is not None:
            start = max(start, tracked)
        if start is None or start > version:
            if spool is None:
                return outcome  # nothing can be rebuilt and nothing was captured: backfill
            start = version
        coverage = Coverage(start, start - 1, settled=start == 0)
    gone = [
        v
        for v in range(coverage.through + 1, version + (0 if spool is not None else 1))
        if not rebuildable(uri, store.options(), v)
    ]
    if gone:
        raise BronzeError(
            f"bronze versions {gone[0]}..{gone[-1]} have no history and can no longer be "
            "rebuilt: VACUUM removed their data files. The history stays incomplete there; "
            "see docs/history.md (Limits)",
            table=table,
        )
    infos = commit_infos(delta, coverage.through + 1)
    changes = []
    for v in range(coverage.through + 1, version + 1):
        if v == version and spool is not None:
            changes.append(_spooled(delta, v, infos[v], spool))
        else:
            changes.append(derive_version(uri, store.options(), keys, v, infos[v]))
            outcome.derived.append(v)
    outcome.coverage = Coverage(coverage.first, version, coverage.settled)
    fault_point("before_history")
    outcome.rows = append_versions(
        store, table, keys, changes, outcome.coverage, reason, existing=history
    )
    outcome.versions = [c.version for c in changes]
    return outcome


def first_tracked_version(delta: DeltaTable) -> int | None:
    """Return the oldest version a history-writing release committed (None: none did)."""
    tracked = [
        int(info["version"]) for info in notes.history(delta) if commit_fields(info).get("history")
    ]
    return min(tracked, default=None)


def commit_infos(delta: DeltaTable, first: int) -> dict[int, dict[str, Any]]:
    """Return the commitInfo of every version from `first` to the table's version."""
    entries = notes.history(delta, delta.version() - first + 1)
    infos = {int(e["version"]): dict(e) for e in entries}
    missing = [v for v in range(first, delta.version() + 1) if v not in infos]
    if missing:
        raise BronzeError(
            f"the Delta log no longer holds version(s) {missing[0]}..{missing[-1]}",
            table=delta.table_uri,
        )
    return infos


def _spooled(
    delta: DeltaTable, version: int, info: dict[str, Any], spool: ChangeSpool
) -> VersionChanges:
    when, run, key = version_identity(info)
    bronze = spool.bronze or delta.to_pyarrow_dataset().schema
    return VersionChanges(version, when, run, key, bronze, spool.parts())


def record_or_defer(
    store: BronzeStore,
    table: str,
    keys: Sequence[str],
    version: int,
    spool: ChangeSpool | None = None,
    reason: str = "sync",
) -> tuple[HistoryOutcome | None, str | None]:
    """Record history up to `version`; on failure return the error instead of raising.

    A bronze commit that landed stays good when its history append fails: the next writer
    of the table repairs the gap from the Delta log, and `history_complete` fails until then.
    """
    try:
        return record_history(store, table, keys, version, spool, reason), None
    except Exception as exc:
        log.warning("history of %s not recorded up to version %s: %s", table, version, exc)
        return (
            None,
            f"history not recorded up to version {version} ({exc}); the next sync repairs it",
        )
