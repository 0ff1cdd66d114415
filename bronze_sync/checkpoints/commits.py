"""The identity of a Delta commit, so a checkpoint can tell when its pinned version was rewritten.

A Delta version is only a number: when the newest `_delta_log` entry is deleted, the next
commit takes its number again. A checkpoint therefore records, beside each pinned version, the
commit's timestamp and operation (from its commitInfo) and compares them before a restore.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from bronze_sync.bronze.commit import read_commit_info
from bronze_sync.bronze.storage import BronzeStore


@dataclass(frozen=True)
class CommitIdentity:
    """What tells one commit from another that took the same version number."""

    timestamp: int  # commitInfo timestamp, milliseconds since the epoch
    operation: str  # Delta operation name (WRITE, MERGE, RESTORE ...)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> CommitIdentity:
        """Build an identity from its TableCommits JSON object."""
        return cls(timestamp=int(value["timestamp"]), operation=str(value["operation"]))

    def to_json(self) -> dict[str, Any]:
        """Return the TableCommits JSON object of this identity."""
        return {"timestamp": self.timestamp, "operation": self.operation}

    def describe(self) -> str:
        """Return "a MERGE commit at 2025-01-31 06:00:01.234 UTC"."""
        when = dt.datetime.fromtimestamp(self.timestamp / 1000, dt.UTC)
        stamp = when.isoformat(sep=" ", timespec="milliseconds").removesuffix("+00:00")
        return f"a {self.operation} commit at {stamp} UTC"


def commit_identity(store: BronzeStore, table: str, version: int) -> CommitIdentity | None:
    """Return the identity of commit `version` of bronze table `table`; None when unknown.

    Unknown: the commit file is gone (log clean-up kept only a Delta checkpoint) or its writer
    left no commitInfo timestamp.
    """
    info = read_commit_info(store.table_uri(table), store.options(), version)
    if info is None or "timestamp" not in info:
        return None
    return CommitIdentity(int(info["timestamp"]), str(info.get("operation") or "UNKNOWN"))


def rewritten_reason(version: int, recorded: CommitIdentity, found: CommitIdentity) -> str:
    """Return why a pinned version whose commit changed cannot be restored."""
    return (
        f"Unrestorable: version {version} was rewritten (the checkpoint recorded "
        f"{recorded.describe()}, the log now holds {found.describe()})"
    )


def identities_from_json(text: str | None) -> dict[str, CommitIdentity]:
    """Return the identities of a TableCommits column value (empty for older rows)."""
    return {t: CommitIdentity.from_json(v) for t, v in json.loads(text or "{}").items()}


def identities_to_json(commits: dict[str, CommitIdentity]) -> str:
    """Return the TableCommits column value of `commits`."""
    return json.dumps({t: c.to_json() for t, c in commits.items()}, sort_keys=True)
