"""The maintenance summary: per-table outcomes, bytes before/after, checkpoints, total time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bronze_sync.maintenance.operations import OperationResult
from bronze_sync.maintenance.storage import StorageRecord, Usage

FAILED, WARNING, SKIPPED, SUCCESS = "Failed", "Warning", "Skipped", "Success"


@dataclass
class TableOutcome:
    """What maintenance did to one table."""

    table: str
    kind: str  # bronze | history | metadata
    before: Usage | None = None
    after: Usage | None = None
    version: int | None = None
    operations: list[OperationResult] = field(default_factory=list)
    skipped: str | None = None

    @property
    def status(self) -> str:
        """Return Failed, Warning, Skipped or Success (the worst of its operations)."""
        statuses = {op.status for op in self.operations}
        for status in (FAILED, WARNING):
            if status in statuses:
                return status
        if self.skipped or not self.operations or statuses == {SKIPPED}:
            return SKIPPED
        return SUCCESS

    def reasons(self) -> list[str]:
        """Return why operations failed, warned or were skipped."""
        out = [f"{op.operation}: {op.error}" for op in self.operations if op.error]
        return [self.skipped, *out] if self.skipped else out

    def record(self) -> StorageRecord:
        """Return the StorageHistory record of this table."""
        empty = Usage(0, 0)
        return StorageRecord(
            self.table,
            self.kind,
            self.before or empty,
            self.after or self.before or empty,
            self.version,
            self.status,
            "; ".join(self.reasons()) or None,
        )


@dataclass
class MaintenanceSummary:
    """The result of one maintenance run."""

    run_id: str
    dry_run: bool
    started: dt.datetime
    seconds: float = 0.0
    pre_checkpoint: str | None = None
    deactivated: list[str] = field(default_factory=list)
    outcomes: list[TableOutcome] = field(default_factory=list)
    unrestorable: list[str] = field(default_factory=list)
    trimmed: dict[str, int] = field(default_factory=dict)  # log rows removed by retention

    @property
    def failures(self) -> list[TableOutcome]:
        """Return the tables whose maintenance failed."""
        return [o for o in self.outcomes if o.status == FAILED]

    @property
    def bytes_reclaimed(self) -> int:
        """Return the bytes the run freed over all tables."""
        return sum(o.record().reclaimed for o in self.outcomes)

    def table_rows(self) -> list[list[str]]:
        """Return one row per table: name, kind, status, bytes before/after, files, reasons."""
        rows = []
        for o in self.outcomes:
            r = o.record()
            removed = sum(op.files_removed for op in o.operations)
            rows.append(
                [
                    o.table,
                    o.kind,
                    o.status,
                    f"{r.before.bytes:,}",
                    f"{r.after.bytes:,}",
                    str(removed),
                    "; ".join(o.reasons()) or "-",
                ]
            )
        return rows

    def headline(self) -> str:
        """Return the one-paragraph summary."""
        mode = "DRY RUN (nothing changed): " if self.dry_run else ""
        verb = "would deactivate" if self.dry_run else "deactivated"
        counts = {
            s: sum(o.status == s for o in self.outcomes)
            for s in (SUCCESS, WARNING, SKIPPED, FAILED)
        }
        parts = [
            f"{mode}{len(self.outcomes)} table(s) processed",
            ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n),
            f"{self.bytes_reclaimed:,} bytes reclaimed",
            f"{len(self.deactivated)} expired checkpoint(s) {verb}",
            f"{self.seconds:.1f} s",
        ]
        if self.pre_checkpoint:
            parts.append(f"PreMaintenance checkpoint {self.pre_checkpoint}")
        if self.unrestorable:
            parts.append(f"NOT restorable after maintenance: {', '.join(self.unrestorable)}")
        return "; ".join(p for p in parts if p)

    def to_text(self) -> str:
        """Return the summary as plain text for logs and the terminal."""
        lines = [self.headline()]
        for row in self.table_rows():
            lines.append(
                f"  {row[0]} [{row[1]}] {row[2]}: bytes {row[3]} -> {row[4]}, "
                f"{row[5]} file(s) removed; {row[6]}"
            )
        if self.deactivated:
            lines.append("  checkpoints: " + ", ".join(self.deactivated))
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """Return the summary as Markdown (Dagster metadata)."""
        head = "| table | kind | status | bytes before | bytes after | files removed | reasons |"
        lines = [self.headline(), "", head, "|---|---|---|---:|---:|---:|---|"]
        for row in self.table_rows():
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        if self.deactivated:
            lines += ["", "Expired checkpoints: " + ", ".join(self.deactivated)]
        return "\n".join(lines)
