"""Checkpoint lifecycle: manual checkpoints, retiring permanent ones, integrity validation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from bronze_sync.alerts import Alert, Notifier, Severity
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints.commits import CommitIdentity
from bronze_sync.checkpoints.create import create_checkpoint, find_checkpoint, list_checkpoints
from bronze_sync.checkpoints.integrity import Restorability, check_restorable
from bronze_sync.checkpoints.model import VALIDATED, Checkpoint, CheckpointType
from bronze_sync.config.models import Config
from bronze_sync.errors import CheckpointError, CheckpointUsageError
from bronze_sync.metadata import AuditEntry, MetadataStore, RunInfo
from bronze_sync.metadata.audit import write_audit
from bronze_sync.metadata.schemas import CHECKPOINT_HISTORY

log = logging.getLogger(__name__)

UNRESTORABLE = "Unrestorable"
RETIRED = "CheckpointRetired"
MAX_RETAIN_DAYS = 36500
VALIDATION_JOB = "validate_checkpoints"
INTEGRITY = "integrity "
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
# Automatic checkpoints own these prefixes; a manual one must not supersede them by name.
RESERVED_PREFIXES = (
    "bronze_backup_",
    "bronze_batch_",
    "bronze_weekly_",
    "bronze_monthly_",
    "pre_purge_",
    "pre_maintenance_",
    "post_rollback_",
    "pre_schema_change_",
)


class CheckpointNameError(CheckpointError):
    """A manual checkpoint name is malformed or reserved for automatic checkpoints."""

    exit_code = 2


def check_manual_name(name: str) -> str:
    """Return `name` if it can name a manual checkpoint, else raise CheckpointNameError."""
    if not _NAME.fullmatch(name or ""):
        raise CheckpointNameError(
            f"checkpoint name {name!r}: use 1-128 letters, digits, '_', '.', '-' "
            "(starting with a letter or digit)"
        )
    if name.startswith(RESERVED_PREFIXES):
        raise CheckpointNameError(
            f"checkpoint name {name!r}: prefix reserved for automatic checkpoints "
            f"({', '.join(RESERVED_PREFIXES)})"
        )
    return name


def check_retention(retain_days: int | None, keep_forever: bool) -> None:
    """Raise CheckpointUsageError unless the retention options make sense together."""
    if retain_days is not None and keep_forever:
        raise CheckpointUsageError("use either --retain-days or --keep-forever, not both")
    if retain_days is not None and not 1 <= retain_days <= MAX_RETAIN_DAYS:
        raise CheckpointUsageError(
            f"--retain-days {retain_days}: use 1 to {MAX_RETAIN_DAYS} days "
            "(or --keep-forever for a permanent checkpoint)"
        )


def retirable(meta: MetadataStore, name: str) -> Checkpoint:
    """Return the active permanent checkpoint `name`, else raise CheckpointUsageError."""
    found = find_checkpoint(meta, name)
    if found is None or not found.is_active:
        state = "is no longer active" if found is not None else "does not exist"
        raise CheckpointUsageError(f"checkpoint {name!r} {state}: nothing to retire")
    if not found.permanent:
        raise CheckpointUsageError(
            f"checkpoint {name} ({found.type.value}) is not permanent: it expires "
            f"{found.retention_date} on its own; only permanent checkpoints are retired"
        )
    return found


def retire_checkpoint(
    meta: MetadataStore, name: str, now: dt.datetime, by: str, reason: str, run: RunInfo
) -> Checkpoint:
    """End a permanent checkpoint: deactivate it (the row stays) and audit who and why."""
    if not reason.strip():
        raise CheckpointUsageError("retiring a permanent checkpoint needs a reason")
    found = retirable(meta, name)
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    note = f"retired {stamp} by {by}: {reason.strip()}"
    retired = dataclasses.replace(
        found,
        is_active=False,
        retention_date=now.astimezone(dt.UTC).date(),
        notes="; ".join(filter(None, [found.notes, note])),
    )
    meta.update(
        CHECKPOINT_HISTORY,
        [retired.to_row()],
        keys=["CheckpointId"],
        columns=["IsActive", "RetentionDate", "Notes"],
    )
    tables = ", ".join(sorted(found.table_versions))
    entry = AuditEntry(RETIRED, None, now, now, rows_processed=1, notes=f"{name} ({tables}) {note}")
    write_audit(meta, run, [entry], now)
    return retired


def current_versions(store: BronzeStore, tables: Sequence[str]) -> dict[str, int]:
    """Return each bronze table's current Delta version; every table must exist."""
    versions, missing = {}, []
    for name in tables:
        delta = store.open(store.table_uri(name))
        if delta is None:
            missing.append(name)
        else:
            versions[name] = delta.version()
    if missing:
        raise CheckpointError(f"no bronze table yet for {', '.join(missing)} (sync it first)")
    return versions


def create_manual_checkpoint(
    config: Config,
    store: BronzeStore,
    name: str,
    tables: Sequence[str] | None,
    now: dt.datetime,
    created_by: str,
    notes: str | None = None,
    retain_days: int | None = None,
    keep_forever: bool = False,
) -> Checkpoint:
    """Pin the current versions of `tables` (default: every enabled table in bronze).

    Kept 30 days, `retain_days` days, or until retired when `keep_forever`.
    """
    check_manual_name(name)
    check_retention(retain_days, keep_forever)
    if tables:
        names = [t.name for t in config.select_tables(list(tables))]
    else:
        names = [t.name for t in config.enabled_tables() if store.exists(store.table_uri(t.name))]
        if not names:
            raise CheckpointError("no enabled table has a bronze table yet (sync first)")
    checkpoint = create_checkpoint(
        MetadataStore(store),
        name,
        CheckpointType.MANUAL,
        current_versions(store, names),
        now,
        created_by,
        notes=notes,
        retain_days=retain_days,
        keep_forever=keep_forever,
    )
    if checkpoint.validation_status != VALIDATED:
        raise CheckpointError(f"checkpoint {name} was recorded but failed: {checkpoint.notes}")
    return checkpoint


@dataclass(frozen=True)
class CheckpointValidation:
    """One active checkpoint after its integrity check."""

    checkpoint: Checkpoint
    tables: list[Restorability]

    @property
    def restorable(self) -> bool:
        """Return True when every table can still be restored to its pinned version."""
        return all(t.restorable for t in self.tables)

    def problems(self) -> list[str]:
        """Return why tables cannot be restored."""
        return [t.problem() for t in self.tables if not t.restorable]


def validate_active_checkpoints(
    meta: MetadataStore,
    store: BronzeStore,
    now: dt.datetime,
    *,
    notifier: Notifier | None = None,
    run: RunInfo | None = None,
) -> list[CheckpointValidation]:
    """Check every active checkpoint is still restorable; record the verdicts; alert if not.

    A pinned version is restorable while its log entry loads, still holds the commit the
    checkpoint recorded (TableCommits) and every data file it references exists. Verdicts go
    to CheckpointHistory (ValidationStatus, Notes) and one CheckpointValidation row to
    SyncAuditLog. Call it after VACUUM or log cleanup.
    """
    run = run or RunInfo(run_id=f"validate-{uuid.uuid4()}", pipeline_name=VALIDATION_JOB)
    seen: dict[tuple[str, int, CommitIdentity | None], Restorability] = {}

    def check(table: str, version: int, recorded: CommitIdentity | None) -> Restorability:
        key = (table, version, recorded)
        if key not in seen:  # checkpoints of one day often pin the same versions
            seen[key] = check_restorable(store, table, version, recorded)
        return seen[key]

    results = []
    for checkpoint in list_checkpoints(meta):
        checks = [
            check(t, v, checkpoint.table_commits.get(t))
            for t, v in sorted(checkpoint.table_versions.items())
        ]
        verdict = CheckpointValidation(checkpoint, checks)
        updated = dataclasses.replace(
            checkpoint,
            validation_status=VALIDATED if verdict.restorable else UNRESTORABLE,
            notes=_integrity_notes(checkpoint.notes, now, verdict),
        )
        results.append(CheckpointValidation(updated, checks))
    meta.update(
        CHECKPOINT_HISTORY,
        [r.checkpoint.to_row() for r in results],
        keys=["CheckpointId"],
        columns=["ValidationStatus", "Notes"],
    )
    broken = [r for r in results if not r.restorable]
    write_audit(meta, run, [_audit_entry(results, broken, now)], now)
    if broken:
        alert = validation_alert(broken, run)
        if notifier is None:
            log.error("%s\n%s", alert.subject, alert.body)
        else:
            notifier.send(alert)
    return results


def validation_alert(broken: list[CheckpointValidation], run: RunInfo) -> Alert:
    """Return the alert for active checkpoints that can no longer be restored."""
    critical = any(b.checkpoint.type == CheckpointType.PRE_PURGE for b in broken)
    lines = [
        f"- {b.checkpoint.name} ({b.checkpoint.type.value}, expires "
        f"{b.checkpoint.expires()}): {'; '.join(b.problems())}"
        for b in broken
    ]
    return Alert(
        severity=Severity.CRITICAL if critical else Severity.HIGH,
        subject=f"{len(broken)} active checkpoint(s) can no longer be restored",
        body="\n".join(
            [
                *lines,
                "",
                "Rollback to these checkpoints would fail. Check VACUUM retention and "
                "delta.logRetentionDuration / delta.deletedFileRetentionDuration "
                "(see docs/checkpoints-and-rollback.md).",
            ]
        ),
        job=run.pipeline_name,
        run_id=run.run_id,
        tables=tuple(sorted({t for b in broken for t in b.checkpoint.table_versions})),
        error_class="CheckpointError",
    )


def _integrity_notes(notes: str | None, now: dt.datetime, verdict: CheckpointValidation) -> str:
    """Return the notes with the previous integrity verdict replaced by this one."""
    kept = [p for p in (notes or "").split("; ") if p and not p.startswith(INTEGRITY)]
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    if verdict.restorable:
        result = f"{len(verdict.tables)} table(s) restorable"
    else:
        result = "NOT restorable: " + " | ".join(verdict.problems())
    return "; ".join([*kept, f"{INTEGRITY}{stamp} UTC: {result}"])


def _audit_entry(
    results: list[CheckpointValidation], broken: list[CheckpointValidation], now: dt.datetime
) -> AuditEntry:
    if broken:
        notes = "not restorable: " + ", ".join(b.checkpoint.name for b in broken)
    else:
        notes = f"all {len(results)} active checkpoint(s) restorable"
    return AuditEntry(
        "CheckpointValidation",
        None,
        now,
        now,
        status="Warning" if broken else "Success",
        rows_processed=len(results),
        notes=notes,
    )
