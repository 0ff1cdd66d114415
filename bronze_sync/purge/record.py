"""Record a source purge: validate, report the impact, checkpoint, update metadata, notify."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bronze_sync.alerts import Alert, Notifier, Severity
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import Checkpoint, CheckpointType, create_checkpoint
from bronze_sync.checkpoints.model import VALIDATED
from bronze_sync.config.models import Config
from bronze_sync.errors import CheckpointError
from bronze_sync.metadata import AuditEntry, MetadataStore, RunInfo
from bronze_sync.metadata.audit import write_audit
from bronze_sync.metadata.pipeline_config import DECLARED_COLUMNS, declared_row, read_all
from bronze_sync.metadata.schemas import PIPELINE_CONFIG
from bronze_sync.purge.approval import check_token, consume_token, purge_token, require_approval
from bronze_sync.purge.history import PurgeEvent, add_events, pending_events
from bronze_sync.purge.impact import ImpactReport, compute_impact
from bronze_sync.purge.request import PurgeRequest, PurgeTarget, validate_request
from bronze_sync.rollback.secret import approval_secret

PIPELINE_NAME = "purge_metadata_update"


@dataclass(frozen=True)
class PurgePlan:
    """A validated purge request and its impact report."""

    request: PurgeRequest
    targets: list[PurgeTarget]
    report: ImpactReport
    approval_token: str | None = None  # a dry run's token when purge.require_approval is on


@dataclass
class PurgeOutcome:
    """What recording a purge did (nothing at all for a dry run)."""

    plan: PurgePlan
    dry_run: bool
    checkpoint: Checkpoint | None = None
    recorded_tables: list[str] = field(default_factory=list)


def prepare_purge(
    config: Config, store: BronzeStore, request: PurgeRequest, now: dt.datetime
) -> PurgePlan:
    """Validate `request` and compute its impact report; writes nothing."""
    meta = MetadataStore(store)
    targets = validate_request(config, store, meta, request, now)
    token = None
    if config.purge.require_approval:
        secret = approval_secret(config.rollback.approval_secret)
        if request.dry_run:
            token = purge_token(secret, request, targets)
        else:
            check_token(meta, secret, request, targets, require_approval(request.approval))
    report = compute_impact(store, targets, request.purge_date)
    return PurgePlan(request, targets, report, token)


def log_validation(meta: MetadataStore, run: RunInfo, plan: PurgePlan, now: dt.datetime) -> None:
    """Write one PurgeValidation audit row per table with its impact figures."""
    entries = [
        AuditEntry(
            "PurgeValidation",
            impact.table,
            now,
            now,
            rows_processed=impact.active_rows,
            rows_purged=impact.to_purge,
            delta_version=impact.version,
            status="Warning" if impact.warnings() else "Success",
            notes=(
                f"purge date {plan.request.purge_date}: {impact.to_purge:,} of "
                f"{impact.active_rows:,} active rows ({impact.share:.1%}) created before it"
                + "".join(f"; {w}" for w in impact.warnings())
            ),
        )
        for impact in plan.report.tables
    ]
    write_audit(meta, run, entries, now)


def apply_purge(
    store: BronzeStore,
    plan: PurgePlan,
    run: RunInfo,
    now: dt.datetime,
    notifier: Notifier,
    created_by: str,
) -> PurgeOutcome:
    """Checkpoint the tables, record the purge date and the expectation, audit and notify."""
    if plan.request.dry_run:
        return PurgeOutcome(plan, dry_run=True)
    meta = MetadataStore(store)
    if plan.request.approval is not None:  # first: a used token leaves nothing written
        consume_token(meta, plan.request, plan.request.approval, run.run_id, now)
    checkpoint = None
    if plan.request.create_pre_purge_checkpoint:
        checkpoint = pre_purge_checkpoint(store, meta, plan, now, created_by)
    pending = {t.table.name: pending_events(meta, t.table.name) for t in plan.targets}
    _update_pipeline_config(meta, plan, now, pending)
    add_events(
        meta,
        [
            PurgeEvent.new(
                table=impact.table,
                purge_date=plan.request.cutoff,
                previous_purge_date=impact.previous_purge,
                recorded=now,
                run_id=run.run_id,
                checkpoint=checkpoint.name if checkpoint else None,
                active_rows=impact.active_rows,
                expected=impact.to_purge,
                notes=plan.request.notes,
            )
            for impact in plan.report.tables
        ],
    )
    write_audit(meta, run, _recorded_entries(plan, checkpoint, now), now)
    outcome = PurgeOutcome(plan, False, checkpoint, [t.table for t in plan.report.tables])
    notifier.send(purge_alert(outcome, run))
    return outcome


def run_purge(
    config: Config,
    store: BronzeStore,
    request: PurgeRequest,
    run: RunInfo,
    now: dt.datetime,
    notifier: Notifier,
    created_by: str = "bronze_sync",
) -> PurgeOutcome:
    """Do every step of recording a purge (the purge_metadata_update job's work) in one call."""
    plan = prepare_purge(config, store, request, now)
    if not request.dry_run:
        log_validation(MetadataStore(store), run, plan, now)
    return apply_purge(store, plan, run, now, notifier, created_by)


def pre_purge_checkpoint(
    store: BronzeStore, meta: MetadataStore, plan: PurgePlan, now: dt.datetime, created_by: str
) -> Checkpoint:
    """Pin the tables' current versions (PrePurge, permanent); refuse to go on if it fails."""
    versions = {}
    for target in plan.targets:
        delta = store.open(store.table_uri(target.table.name))
        versions[target.table.name] = delta.version() if delta is not None else target.version
    checkpoint = create_checkpoint(
        meta,
        pre_purge_name(plan.request.purge_date, now),
        CheckpointType.PRE_PURGE,
        versions,
        now,
        created_by,
        notes=f"before recording the purge of rows created before {plan.request.purge_date}",
    )
    if checkpoint.validation_status != VALIDATED:
        raise CheckpointError(
            f"the pre-purge checkpoint {checkpoint.name} could not be validated "
            f"({checkpoint.notes}); the purge was not recorded"
        )
    return checkpoint


def pre_purge_name(purge_date: dt.date, now: dt.datetime) -> str:
    """Return the PrePurge checkpoint name: purge date plus recording time (names stay unique)."""
    return f"pre_purge_{purge_date.isoformat()}_{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"


def purge_alert(outcome: PurgeOutcome, run: RunInfo) -> Alert:
    """Return the notification that tells operators a purge was recorded, with its impact."""
    report = outcome.plan.report
    checkpoint = outcome.checkpoint.name if outcome.checkpoint else "none (not requested)"
    return Alert(
        severity=Severity.MEDIUM,
        subject=(
            f"Purge recorded for {len(report.tables)} table(s): rows created before "
            f"{report.purge_date} ({report.total_to_purge:,} expected to become IsPurged)"
        ),
        body=(
            f"{report.to_markdown()}\n\nPre-purge checkpoint: {checkpoint}. The next daily sync "
            "flags these rows IsPurged when they vanish from the source, then compares the "
            "purged counts with this report."
        ),
        job=PIPELINE_NAME,
        run_id=run.run_id,
        tables=tuple(t.table for t in report.tables),
        details={"purge_date": report.purge_date.isoformat(), "checkpoint": checkpoint},
    )


def _update_pipeline_config(
    meta: MetadataStore, plan: PurgePlan, now: dt.datetime, pending: dict[str, list[PurgeEvent]]
) -> None:
    existing = read_all(meta)
    rows = []
    for target, impact in zip(plan.targets, plan.report.tables, strict=True):
        row = declared_row(target.table, existing.get(target.table.name), now)
        # Counts what the purge is expected to flag (replacing the expectation of a pending
        # purge it supersedes); the post-purge summary corrects it to what was flagged.
        superseded = sum(e.expected for e in pending[target.table.name])
        count = (row.get("PurgeRecordCount") or 0) + impact.to_purge - superseded
        row.update(
            LastPurgeDate=plan.request.cutoff,
            PurgeRecordCount=max(0, count),
            LastPurgeRecorded=now,
        )
        if plan.request.notes:
            row["Notes"] = f"purge {plan.request.purge_date}: {plan.request.notes}"
        rows.append(row)
    state = ["LastPurgeDate", "PurgeRecordCount", "LastPurgeRecorded", "Notes"]
    meta.upsert(PIPELINE_CONFIG, rows, keys=["TableName"], columns=[*DECLARED_COLUMNS, *state])


def _recorded_entries(
    plan: PurgePlan, checkpoint: Checkpoint | None, now: dt.datetime
) -> list[AuditEntry]:
    entries = []
    for impact in plan.report.tables:
        previous = impact.previous_purge
        notes = [
            f"LastPurgeDate {previous.date() if previous else 'none'} -> {plan.request.purge_date}",
            f"expected PURGE rows {impact.to_purge:,}",
            f"checkpoint {checkpoint.name}" if checkpoint else "no pre-purge checkpoint",
        ]
        if previous is not None and plan.request.cutoff < previous:
            notes.append("forced: the purge date moved backwards")
        if plan.request.approval is not None:
            notes.append(f"approved by {plan.request.approval.approved_by.strip()}")
        if plan.request.notes:
            notes.append(plan.request.notes)
        entries.append(
            AuditEntry(
                "PurgeRecorded",
                impact.table,
                now,
                now,
                rows_purged=impact.to_purge,
                delta_version=impact.version,
                notes="; ".join(notes),
            )
        )
    return entries
