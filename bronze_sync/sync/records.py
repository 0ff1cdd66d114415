"""The records of one sync: validation verdict, audit rows, Daily checkpoint, table state.

Built from a `SyncResult`, which a live sync produces and crash recovery rebuilds from the
commit's metadata, so both write exactly the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from bronze_sync.checkpoints import CheckpointType, create_checkpoint, daily_name
from bronze_sync.checkpoints.model import VALIDATED
from bronze_sync.config.models import TableConfig
from bronze_sync.metadata import pipeline_config
from bronze_sync.metadata.audit import AuditEntry, ValidationRecord
from bronze_sync.pii.source import PII_POLICY
from bronze_sync.sync.changes import CHANGE_TOKEN
from bronze_sync.sync.job import SyncJob
from bronze_sync.sync.key_check import CHECKSUM, LAST_FULL_KEY_SCAN
from bronze_sync.sync.noop import KEY_STATE
from bronze_sync.sync.result import SyncResult

log = logging.getLogger(__name__)
RECOVERED_NOTE = "recovered from the commit's metadata after the run that made it stopped"


def validate_result(table: TableConfig, result: SyncResult) -> ValidationRecord:
    """Check bronze's counts after a sync: zero tolerance."""
    c = result.counts
    problems = []
    if c["total"] != c["active"] + c["deleted"] + c["purged"]:
        problems.append(f"total {c['total']} != active + deleted + purged")
    if (
        result.keys_reconciled
        and result.source_rows is not None
        and c["active"] != result.source_rows
    ):
        problems.append(f"active {c['active']} != source rows {result.source_rows}")
    if result.scope_active is not None and result.scope_active != result.source_rows:
        problems.append(
            f"active rows of the synced partition values {result.scope_active} != source rows "
            f"{result.source_rows}"
        )
    notes = "; ".join(problems) if problems else _validation_note(result)
    return ValidationRecord(
        table=table.name,
        context="DailySync",
        passed=not problems,
        total=c["total"],
        active=c["active"],
        deleted=c["deleted"],
        purged=c["purged"],
        # A partitioned sync counts the source rows of its values only, not the whole table.
        source_rows=result.source_rows if result.scope_active is None else None,
        notes=notes,
    )


def _validation_note(result: SyncResult) -> str:
    if result.scope_active is not None:
        return (
            f"counts consistent; the {result.scope_active:,} active rows of the synced partition "
            "values equal the source's rows of those values"
        )
    if result.key_path == CHECKSUM:
        return "counts consistent; active rows equal the source's key count (key checksums)"
    if result.full_key_scan:
        return "counts consistent; active rows equal the source's key count"
    return "counts consistent; source not fully scanned (no key comparison)"


def audit_entries(
    table: TableConfig, result: SyncResult, start: dt.datetime, end: dt.datetime
) -> list[AuditEntry]:
    """Return the SyncAuditLog entries that describe a sync (each names its Delta version)."""

    # Any: the keywords are AuditEntry's own fields, each of its own type.
    def entry(operation: str, **fields: Any) -> AuditEntry:
        made = AuditEntry(operation, table.name, start, end, **fields)
        made.delta_version, made.recovered = result.version, result.recovered
        if result.recovered:
            made.notes = "; ".join(filter(None, [RECOVERED_NOTE, made.notes]))
        return made

    entries = [entry("SchemaCheck", notes=_schema_note(result))]
    if result.mode == "initial":
        entries.append(entry("CreateTable"))
        entries.append(entry("InitialSync", rows_processed=result.inserted))
        return entries
    if result.tracking_added:
        entries.append(entry("AddTrackingColumns"))
    changed = {"added": result.columns_added, "re-added": result.columns_readded}
    if any(changed.values()):
        notes = "; ".join(f"{k} columns: {', '.join(v)}" for k, v in changed.items() if v)
        entries.append(entry("SchemaEvolution", rows_processed=result.filled, notes=notes))
    entries.append(
        entry(
            "DataSync",
            rows_processed=result.inserted + result.updated + result.undeleted,
            retry_count=result.retries,
            notes=(
                f"mode={result.mode}; extracted={result.extracted_rows}; "
                f"inserted={result.inserted} (late {result.late_inserts}); "
                f"updated={result.updated}; undeleted={result.undeleted}; "
                f"unchanged={result.unchanged}; filled={result.filled}; "
                f"older_than_bronze_skipped={result.stale_skipped}; "
                f"{_kind_note(result)}"
                f"since={result.since.isoformat() if result.since else 'full'}; "
                f"committed={result.committed}"
            ),
        )
    )
    if table.track_deletes:
        samples = "; ".join(f"{k}: {v}" for k, v in result.samples.items())
        path = f"path={result.key_path} ({result.key_path_reason})" if result.key_path else ""
        entries.append(
            entry(
                "DeleteDetection",
                rows_deleted=result.deleted,
                rows_purged=result.purged,
                notes="; ".join(filter(None, [path, samples])) or None,
            )
        )
    return entries


def _schema_note(result: SyncResult) -> str:
    parts = [f"mode={result.mode}"]
    if result.properties_repaired:
        parts.append(f"table properties repaired: {'; '.join(result.properties_repaired)}")
    if result.columns_added:
        parts.append(f"new columns {result.columns_added}")
    if result.columns_dropped:
        parts.append(f"columns gone from the source (kept in bronze) {result.columns_dropped}")
    if result.columns_widened:
        parts.append(f"widened {result.columns_widened}")
    if result.tracking_added:
        parts.append("tracking columns added")
    return "; ".join(parts)


def update_sync_state(
    job: SyncJob,
    table: TableConfig,
    now: dt.datetime,
    status: str,
    result: SyncResult,
    audited_through: int | None = None,
) -> None:
    """Save the table's operational state after a sync (its audit rows are written)."""
    state = {
        "TableExists": True,
        "HasTrackingColumns": True,
        "LastSchemaCheck": now,
        "LastSyncStatus": status,
        "LastSyncVersion": result.version,
        "AuditedThroughVersion": result.version if audited_through is None else audited_through,
        "DroppedColumns": json.dumps(sorted(result.columns_dropped)),
    }
    # Only a good sync's key state may stand for its version; anything else clears it.
    key_state = result.key_state if status == "Success" else None
    state[KEY_STATE] = key_state.to_json() if key_state is not None else None
    if status == "Success":
        state["LastDailySync"] = now
        if result.full_key_scan:
            state[LAST_FULL_KEY_SCAN] = now
    if result.committed and result.pii_policy is not None:
        # Whatever the verdict, the committed values are under the commit's own policy.
        state[PII_POLICY] = result.pii_policy
    state.update(_kind_state(result))
    source_state = dict(result.source_state or {})
    token = source_state.pop(CHANGE_TOKEN, None)
    if source_state:
        state["SourceState"] = json.dumps(source_state, sort_keys=True)
    if token and status == "Success":  # a change token only moves on with a good commit
        state["ChangeToken"] = token
    pipeline_config.update_state(job.meta, table, now, **state)


def daily_checkpoint(
    job: SyncJob,
    table: TableConfig,
    result: SyncResult,
    now: dt.datetime,
    day: str | None = None,
    notes: str | None = None,
) -> None:
    """Record (or supersede) the table's Daily checkpoint of the sync batch at `result`."""
    checkpoint = create_checkpoint(
        job.meta,
        daily_name(day or job.day(), table.name),
        CheckpointType.DAILY,
        {table.name: result.version},
        now,
        job.created_by,
        notes=notes or f"run {job.run.run_id}",
        total_rows=result.counts.get("total"),
        retain_days=table.daily_checkpoint_retention_days,
    )
    if checkpoint.validation_status != VALIDATED:
        log.warning(
            "checkpoint %s of %s is %s", checkpoint.name, table.name, checkpoint.validation_status
        )


def _kind_state(result: SyncResult) -> dict[str, object]:
    """Return the PipelineConfig columns a table kind keeps (scd2 window, static fingerprint)."""
    state: dict[str, object] = {}
    if result.loaded_from:
        state["Scd2LoadedFrom"] = result.loaded_from
    if result.fingerprint:
        state["SourceFingerprint"] = result.fingerprint
        state["FingerprintVersion"] = result.version
    return state


def _kind_note(result: SyncResult) -> str:
    """Return what the table's kind adds to the DataSync notes."""
    parts = []
    if result.partition_values is not None:
        shown = result.partition_values[:20]
        more = f" (+{len(result.partition_values) - 20} more)" if len(shown) == 20 else ""
        parts.append(f"partition_values={','.join(shown)}{more}")
    if result.latest_cleared:
        parts.append(f"latest_cleared={result.latest_cleared}")
    if result.fingerprint:
        parts.append(f"fingerprint={result.fingerprint}")
    return "".join(f"{p}; " for p in parts)


def skip_entry(
    table: TableConfig, result: SyncResult, start: dt.datetime, end: dt.datetime
) -> AuditEntry:
    """Return the audit entry of a sync its table kind skipped (nothing read, no commit)."""
    return AuditEntry(
        "DataSync",
        table.name,
        start,
        end,
        status="Skipped",
        notes=result.skip_reason,
        delta_version=result.version,
    )
