"""The outcome of one table sync."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SyncResult:
    """What a table sync did, counted, for metadata, logs and materializations."""

    table: str
    mode: str
    version: int
    committed: bool
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    purged: int = 0
    undeleted: int = 0
    unchanged: int = 0
    late_inserts: int = 0
    extracted_rows: int = 0
    source_rows: int | None = None
    full_key_scan: bool = False
    since: dt.datetime | None = None
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    columns_added: list[str] = field(default_factory=list)
    columns_dropped: list[str] = field(default_factory=list)
    tracking_added: bool = False
    samples: dict[str, str] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    source_state: dict[str, str] | None = None
    retries: int = 0
    diff_partitions: int = 1  # >1: the key diff ran in partitions spilled to staging
    properties_repaired: list[str] = field(default_factory=list)

    @property
    def changed_rows(self) -> int:
        """Return how many bronze rows this sync wrote."""
        return self.inserted + self.updated + self.deleted + self.purged + self.undeleted

    def metadata(self) -> dict[str, Any]:
        """Return the figures shown with a materialization and in commit metadata."""
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "purged": self.purged,
            "undeleted": self.undeleted,
            "unchanged": self.unchanged,
            "source_rows": self.source_rows,
            "delta_version": self.version,
            "watermark": self.since.isoformat() if self.since else None,
            "seconds": round(self.seconds, 3),
            "diff_partitions": self.diff_partitions,
        }
