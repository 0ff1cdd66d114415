"""Where a table's PII migrations are in its Delta log: the commits `pii migrate` made.

A migration commit rewrote every stored value under new policies. Versions before it hold the
old values (until VACUUM), so nothing may restore them, and a migration interrupted after its
commit must be finished before a sync writes again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from deltalake import DeltaTable

from bronze_sync.bronze.commit import commit_fields

PII_MIGRATE = "pii_migrate"  # `bronze_sync.mode` of a migration commit
POLICY_FROM, POLICY_TO = "pii_from", "pii_policy"  # commit metadata: JSON of the policies


@dataclass(frozen=True)
class MigrationCommit:
    """One migration commit: its version and the policies before and after it."""

    version: int
    before: dict[str, str]
    after: dict[str, str]


def migrations_after(delta: DeltaTable, version: int | None) -> list[MigrationCommit]:
    """Return the migration commits after `version` (every one when None), oldest first."""
    newer = delta.version() + 1 if version is None else delta.version() - int(version)
    if newer <= 0:
        return []
    found = [_migration(info) for info in delta.history(newer)]
    return sorted((m for m in found if m is not None), key=lambda m: m.version)


def migrated_after(delta: DeltaTable, version: int) -> int | None:
    """Return the newest version after `version` that migrated PII values, None if none."""
    found = migrations_after(delta, version)
    return found[-1].version if found else None


def _migration(info: dict[str, Any]) -> MigrationCommit | None:
    fields = commit_fields(info)
    if fields.get("mode") != PII_MIGRATE:
        return None
    return MigrationCommit(
        int(info["version"]),
        json.loads(str(fields.get(POLICY_FROM) or "{}")),
        json.loads(str(fields.get(POLICY_TO) or "{}")),
    )
