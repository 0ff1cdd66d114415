"""The outcome of one table sync."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bronze_sync.sync.key_check import CHECKSUM


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
    # Source columns never copied (Dataverse file, image columns), with the reason.
    columns_not_copied: dict[str, str] = field(default_factory=dict)
    # Columns protected before staging and how (hash, mask, drop); never their values.
    pii_protected: dict[str, str] = field(default_factory=dict)
    # The policies (canonical JSON) the committed values are under; None: not recorded.
    pii_policy: str | None = None
    tracking_added: bool = False
    samples: dict[str, str] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    source_state: dict[str, str] | None = None
    retries: int = 0
    diff_partitions: int = 1  # >1: the key diff ran in partitions spilled to staging
    properties_repaired: list[str] = field(default_factory=list)
    columns_readded: list[str] = field(default_factory=list)
    columns_widened: list[str] = field(default_factory=list)
    filled: int = 0  # rows whose added/re-added columns took the source's values
    unmodified: int = 0  # re-read rows skipped because bronze holds their modified value
    stale_skipped: int = 0  # re-read rows older than what bronze holds (never written)
    recovered: bool = False  # rebuilt from the commit's metadata after a crashed run
    skip_reason: str | None = None  # the table's kind found nothing to do (mode "skipped")
    partition_values: list[str] | None = None  # partitioned: the values synced
    scope_active: int | None = None  # partitioned: active rows of the synced values after
    fingerprint: str | None = None  # static: the source content fingerprint synced
    latest_cleared: int = 0  # scd2: older versions whose latest flag was cleared
    loaded_from: str | None = None  # scd2 first sync: versions before it were not loaded
    # Row history (ARCHITECTURE §10): the bronze versions it covers after this sync, how many
    # history rows this sync appended per version, or why it could not append them.
    history_first: int | None = None
    history_through: int | None = None
    history_rows: dict[int, int] = field(default_factory=dict)
    history_error: str | None = None
    # Why the Daily checkpoint could not be recorded after its retries (the sync still counts).
    checkpoint_error: str | None = None
    # What the commit cost: data files rewritten (copy-on-write) of the files the table had.
    files_rewritten: int = 0
    files_total: int | None = None
    # Delete detection (`sync.key_check`): which path ran (full_key_scan / checksum), why, and
    # how many source keys were compared key by key.
    key_path: str | None = None
    key_path_reason: str | None = None
    keys_compared: int | None = None
    # Which engine wrote the commit (config.engine), and why a spark table's sync ran natively.
    engine: str = "native"
    engine_note: str | None = None
    key_state: Any = None  # diff.key_state.KeyState of the version left (saved in PipelineConfig)

    @property
    def keys_reconciled(self) -> bool:
        """Return True when bronze's active keys were reconciled with all the source's keys."""
        return self.full_key_scan or self.key_path == CHECKSUM

    def note_history(self, outcome: Any, error: str | None) -> None:
        """Keep what the history update after this sync's commit did (a HistoryOutcome)."""
        self.history_error = error
        if outcome is not None and outcome.coverage is not None:
            self.history_first = outcome.coverage.first
            self.history_through = outcome.coverage.through
            self.history_rows = dict(outcome.rows)

    @property
    def changed_rows(self) -> int:
        """Return how many bronze rows this sync wrote."""
        return self.inserted + self.updated + self.deleted + self.purged + self.undeleted

    def commit_metadata(self) -> dict[str, Any]:
        """Return what the bronze commit records about this sync (metadata is rebuilt from it)."""
        return {
            "mode": self.mode,
            "inserted": self.inserted,
            "deleted": self.deleted,
            "purged": self.purged,
            "late_inserts": self.late_inserts,
            "unmodified": self.unmodified,
            "stale_skipped": self.stale_skipped,
            "extracted": self.extracted_rows,
            "source_rows": self.source_rows,
            "full_key_scan": self.full_key_scan,
            "key_path": self.key_path,
            "since": self.since.isoformat() if self.since else None,
            "columns_added": self.columns_added,
            "columns_dropped": self.columns_dropped,
            "columns_readded": self.columns_readded,
            "columns_widened": self.columns_widened,
            "tracking_added": self.tracking_added,
            "samples": self.samples,
            "source_state": self.source_state,
            "retries": self.retries,
            "diff_partitions": self.diff_partitions,
            "partition_values": self.partition_values,
            "fingerprint": self.fingerprint,
            "latest_cleared": self.latest_cleared,
        }

    @classmethod
    def from_commit(
        cls, table: str, version: int, info: dict[str, Any], counts: dict[str, int]
    ) -> SyncResult:
        """Return the result a commit's `bronze_sync.*` metadata describes (crash recovery)."""
        since = info.get("since")
        mode = info.get("mode") or "incremental"
        initial = mode == "initial"
        return cls(
            table=table,
            mode=mode,
            version=version,
            committed=True,
            inserted=counts.get("total", 0) if initial else int(info.get("inserted") or 0),
            updated=int(info.get("updated") or 0),
            deleted=int(info.get("deleted") or 0),
            purged=int(info.get("purged") or 0),
            undeleted=int(info.get("undeleted") or 0),
            unchanged=int(info.get("unchanged") or 0) + int(info.get("unmodified") or 0),
            late_inserts=int(info.get("late_inserts") or 0),
            extracted_rows=counts.get("total", 0) if initial else int(info.get("extracted") or 0),
            source_rows=counts.get("total") if initial else info.get("source_rows"),
            full_key_scan=initial or bool(info.get("full_key_scan")),
            key_path=info.get("key_path"),
            since=dt.datetime.fromisoformat(since) if since else None,
            counts=counts,
            columns_added=list(info.get("columns_added") or []),
            columns_dropped=list(info.get("columns_dropped") or []),
            columns_readded=list(info.get("columns_readded") or []),
            columns_widened=list(info.get("columns_widened") or []),
            tracking_added=bool(info.get("tracking_added")),
            samples=dict(info.get("samples") or {}),
            source_state=info.get("source_state"),
            retries=int(info.get("retries") or 0),
            diff_partitions=int(info.get("diff_partitions") or 1),
            filled=int(info.get("filled") or 0),
            unmodified=int(info.get("unmodified") or 0),
            stale_skipped=int(info.get("stale_skipped") or 0),
            partition_values=info.get("partition_values"),
            fingerprint=info.get("fingerprint"),
            latest_cleared=int(info.get("latest_cleared") or 0),
            loaded_from=info.get("loaded_from"),
            pii_policy=info.get("pii_policy"),
            recovered=True,
        )

    def metadata(self) -> dict[str, Any]:
        """Return the figures shown with a materialization and in commit metadata."""
        shown = self._figures()
        if self.columns_not_copied:
            shown["columns_not_copied"] = dict(self.columns_not_copied)
        if self.pii_protected:
            shown["pii_protected"] = dict(self.pii_protected)
        return shown

    def _figures(self) -> dict[str, Any]:
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
            "files_rewritten": self.files_rewritten,
            "files_total": self.files_total,
            "delete_detection": self.key_path,
            "delete_detection_reason": self.key_path_reason,
            "keys_compared": self.keys_compared,
            "engine": self.engine,
            **({"engine_note": self.engine_note} if self.engine_note else {}),
        }
