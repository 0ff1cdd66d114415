"""Finish what a crashed run left undone, before the next sync of the table writes anything.

A run can die after its bronze commit and before its metadata rows. Every bronze_sync commit
records what the sync did in its `bronze_sync.*` commit metadata, so the next writer (holding
the table's lease) rebuilds the missing validation, checkpoint and audit rows and the table's
PipelineConfig state from the commit itself, marked recovered. It also removes the data files
a crashed writer never committed, and refuses to write when the Delta log has lost versions
the audit records (a sync would otherwise reuse those version numbers).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deltalake import DeltaTable

from bronze_sync.bronze import commit_notes as notes
from bronze_sync.bronze.commit import commit_fields
from bronze_sync.bronze.lease import LeaseRequest, TableLease, hold_lease
from bronze_sync.bronze.orphans import remove_orphans
from bronze_sync.bronze.reader import count_flags
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import BronzeError
from bronze_sync.history.store import forget_versions_after
from bronze_sync.metadata import MetadataStore, pipeline_config
from bronze_sync.metadata.audit import (
    LOST_VERSIONS_ACCEPTED,
    AuditEntry,
    RunInfo,
    audited_versions,
    table_audit_rows,
    write_audit,
    write_validation,
)
from bronze_sync.pii.migration_log import PII_MIGRATE
from bronze_sync.staging import remove_dead_staging
from bronze_sync.sync.checkpoint_step import alert_checkpoint_failure, record_checkpoint
from bronze_sync.sync.job import SyncJob
from bronze_sync.sync.records import (
    RECOVERED_NOTE,
    audit_entries,
    update_sync_state,
    validate_result,
)
from bronze_sync.sync.result import SyncResult

log = logging.getLogger(__name__)

SYNC_MODES = frozenset({"initial", "sync", "full", "incremental", "changes"})
# bronze_sync's own non-sync commits, by their `bronze_sync.mode`.
OWN_OPERATIONS = {
    "properties": "TablePropertiesRepair",
    "widen": "SchemaEvolution",
    "rollback": "TableRestore",
    PII_MIGRATE: "PiiMigrate",
}
# Commits deltalake makes for bronze_sync without its metadata (maintenance, older releases).
DELTA_OPERATIONS = {
    "OPTIMIZE": "Optimize",
    "VACUUM START": "Vacuum",
    "VACUUM END": "Vacuum",
    "RESTORE": "TableRestore",
    "SET TBLPROPERTIES": "TablePropertiesRepair",
    "ADD COLUMN": "SchemaEvolution",
    "UPDATE": "AddTrackingColumns",
}


@dataclass
class Recovery:
    """What recovery found and wrote for one table."""

    orphans: list[str] = field(default_factory=list)
    staging: list[Path] = field(default_factory=list)  # staging folders of dead runs
    versions: list[int] = field(default_factory=list)  # bronze versions given metadata rows
    state_repaired: bool = False


def recover_after_crash(job: SyncJob, table: TableConfig, lease: TableLease) -> Recovery:
    """Clean a crashed writer's leftovers and write the metadata unaudited versions lack."""
    recovery = Recovery(staging=remove_dead_staging(job.staging_root, table.name))
    if lease.previous is not None:
        recovery.orphans = remove_orphans(job.store, table.name, lease.previous)
    delta = job.store.open(job.store.table_uri(table.name))
    if delta is None:
        return recovery
    latest = delta.version()
    state = pipeline_config.read_state(job.meta, table.name) or {}
    through = state.get("AuditedThroughVersion")
    if through is not None and through > latest:
        raise BronzeError(
            _lost_versions(latest, (through, state.get("LastSyncVersion"))), table=table.name
        )
    if through == latest:
        return recovery  # the usual case: nothing happened since the last recorded version
    audited, newest = _audited(job.meta, table.name)
    if through is None and newest is not None and newest[0] > latest:
        raise BronzeError(_lost_versions(latest, newest), table=table.name)
    commits = sorted(_history_after(delta, through), key=lambda info: info["version"])
    _refuse_unfinished_migration(table, commits, audited)
    for info in commits:
        if info["version"] not in audited:
            _recover_version(job, table, delta, info)
            recovery.versions.append(info["version"])
    recovery.state_repaired = _repair_state(job, table, state, commits, latest)
    if recovery.versions:
        job.progress(
            table.name,
            "schema",
            f"recovered the metadata of version(s) {recovery.versions} left by a crashed run",
        )
    return recovery


def _audited(meta: MetadataStore, table: str) -> tuple[set[int], tuple[int, str] | None]:
    """Return the bronze versions the audit names, and the newest one with its run id."""
    rows = table_audit_rows(meta, table)
    versions = audited_versions(rows)
    top = max(
        (r for r in rows if r["DeltaVersion"] in versions),
        key=lambda r: r["DeltaVersion"],
        default=None,
    )
    return versions, (top["DeltaVersion"], top["PipelineRunId"]) if top else None


def is_sync_commit(info: dict[str, Any]) -> bool:
    """Return True when a history entry is a bronze_sync table sync (initial or daily)."""
    fields = commit_fields(info)
    return bool(fields.get("run_id")) and fields.get("mode", "sync") in SYNC_MODES


def commit_time(info: dict[str, Any]) -> dt.datetime:
    """Return when a history entry was committed (UTC)."""
    return dt.datetime.fromtimestamp(int(info.get("timestamp", 0)) / 1000, dt.UTC)


def _history_after(delta: DeltaTable, version: int | None) -> list[dict[str, Any]]:
    """Return the history entries after `version` (all of them when None)."""
    if version is None:
        return notes.history(delta)
    newer = delta.version() - int(version)
    return notes.history(delta, newer) if newer > 0 else []


def _recover_version(
    job: SyncJob, table: TableConfig, delta: DeltaTable, info: dict[str, Any]
) -> None:
    """Write the metadata rows one bronze version lacks."""
    version, when, fields = info["version"], commit_time(info), commit_fields(info)
    run = RunInfo(
        run_id=str(fields.get("run_id") or f"unknown-{version}"),
        pipeline_name=str(fields.get("pipeline") or "daily_sync"),
        partition_key=fields.get("partition_key"),
    )
    if not is_sync_commit(info):
        write_audit(job.meta, run, [_other_entry(table, info, when)], job.clock())
        return
    result = _sync_result(job, table, delta, info)
    validation = validate_result(table, result)
    write_validation(job.meta, run, [validation], when)
    warning = None
    if validation.passed:
        day = run.partition_key or when.date().isoformat()
        notes = f"run {run.run_id} (recovered)"
        # Retried, and never a reason to fail the sync that recovers (CR-001 §6).
        warning = record_checkpoint(job, table, result, when, day=day, notes=notes)
    entries = [*audit_entries(table, result, when, when), *([warning] if warning else [])]
    write_audit(job.meta, run, entries, job.clock())
    if warning is not None:
        alert_checkpoint_failure(job, table, warning)


def _sync_result(
    job: SyncJob, table: TableConfig, delta: DeltaTable, info: dict[str, Any]
) -> SyncResult:
    version = info["version"]
    pinned = job.store.open(delta.table_uri, version)
    counts = count_flags(pinned) if pinned is not None else {}
    return SyncResult.from_commit(table.name, version, commit_fields(info), counts)


def _other_entry(table: TableConfig, info: dict[str, Any], when: dt.datetime) -> AuditEntry:
    """Return the audit entry of a version no sync made (maintenance, repair, other tools)."""
    fields, operation = commit_fields(info), str(info.get("operation", ""))
    name = OWN_OPERATIONS.get(str(fields.get("mode"))) or DELTA_OPERATIONS.get(operation)
    foreign = name is None
    engine = info.get("engineInfo") or info.get("clientVersion") or "an unknown engine"
    note = f"Delta operation {operation or '?'} by {engine}"
    if not fields:
        note += " (no bronze_sync commit metadata: an older bronze_sync release or another tool)"
    return AuditEntry(
        name or "ExternalCommit",
        table.name,
        when,
        when,
        status="Warning" if foreign else "Success",
        notes=f"{RECOVERED_NOTE}; {note}",
        delta_version=info["version"],
        recovered=True,
    )


def _refuse_unfinished_migration(
    table: TableConfig, commits: list[dict[str, Any]], audited: set[int]
) -> None:
    """Refuse to write after a `pii migrate` that stopped past its bronze commit."""
    for info in commits:
        if commit_fields(info).get("mode") == PII_MIGRATE and info["version"] not in audited:
            raise BronzeError(
                f"version {info['version']} is a `pii migrate` commit whose run stopped before "
                f"it finished (row history, vault, records); finish it with `bronze-sync pii "
                f"migrate --table {table.name} --execute`. Nothing was written",
                table=table.name,
            )


def _repair_state(
    job: SyncJob,
    table: TableConfig,
    state: dict[str, Any],
    commits: list[dict[str, Any]],
    latest: int,
) -> bool:
    """Bring PipelineConfig up to the newest sync commit (a crash before its last write)."""
    syncs = [c for c in commits if is_sync_commit(c)]
    newest = syncs[-1] if syncs else None
    if newest is not None and state.get("LastSyncVersion") != newest["version"]:
        delta = job.store.open(job.store.table_uri(table.name))
        assert delta is not None
        result = _sync_result(job, table, delta, newest)
        status = "Success" if validate_result(table, result).passed else "Failed"
        update_sync_state(job, table, commit_time(newest), status, result, audited_through=latest)
        return True
    if state.get("AuditedThroughVersion") != latest:
        pipeline_config.update_state(job.meta, table, job.clock(), AuditedThroughVersion=latest)
    return False


def _lost_versions(latest: int, newest: tuple[int, object]) -> str:
    version, _ = newest
    return (
        f"the Delta log ends at version {latest}, but the metadata records version {version}: "
        "log entries were lost or the table was replaced, and a sync would reuse those version "
        "numbers. Nothing was written. Restore the missing _delta_log files; or, after checking "
        "the table, accept the loss with `bronze-sync audit accept-lost-versions --tables "
        "<table>`"
    )


def accept_lost_versions(
    store: BronzeStore,
    meta: MetadataStore,
    table: TableConfig,
    run: RunInfo,
    by: str,
    lease_wait_seconds: float = 60.0,
) -> tuple[int, int] | None:
    """Record that the table's log lost its newest versions, so syncs may go on.

    Return (first, last) lost version, or None when the log lost nothing. Later commits
    reuse those numbers; checkpoints that pinned them report "rewritten" (unrestorable).
    """
    request = LeaseRequest(run.run_id, purpose="accept", wait_seconds=lease_wait_seconds)
    with hold_lease(store, table.name, request):
        delta = store.open(store.table_uri(table.name))
        if delta is None:
            return None
        latest = delta.version()
        state = pipeline_config.read_state(meta, table.name) or {}
        _, newest = _audited(meta, table.name)
        recorded = [state.get("AuditedThroughVersion"), state.get("LastSyncVersion")]
        recorded.append(newest[0] if newest else None)
        top = max((int(v) for v in recorded if v is not None), default=latest)
        if top <= latest:
            return None
        now = dt.datetime.now(dt.UTC)
        forgotten = forget_versions_after(store, table.name, latest)
        note = (
            f"versions {latest + 1}..{top} are gone from the Delta log; accepted by {by}. "
            "Later commits reuse these numbers"
            + (f"; their {forgotten:,} row history row(s) were dropped" if forgotten else "")
        )
        entry = AuditEntry(
            LOST_VERSIONS_ACCEPTED, table.name, now, now, status="Warning", notes=note
        )
        entry.delta_version = latest
        write_audit(meta, run, [entry], now)
        last_sync = min(int(state.get("LastSyncVersion") or latest), latest)
        pipeline_config.update_state(
            meta, table, now, AuditedThroughVersion=latest, LastSyncVersion=last_sync
        )
        return latest + 1, top
