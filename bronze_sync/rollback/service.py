"""Plan and execute a rollback: the rollback_to_checkpoint job's work, step by step."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from bronze_sync.alerts import Alert, Notifier, Severity
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import Checkpoint, CheckpointType, create_checkpoint
from bronze_sync.config.models import Config
from bronze_sync.errors import BronzeSyncError
from bronze_sync.metadata import AuditEntry, MetadataStore, RunInfo
from bronze_sync.metadata.audit import write_audit, write_validation
from bronze_sync.metadata.schemas import ROLLBACK_COMPARISON_REPORTS, ROLLBACK_STATE_SNAPSHOTS
from bronze_sync.rollback import reports
from bronze_sync.rollback.approval import (
    TokenUse,
    approval_token,
    check_token,
    consume_token,
    token_hash,
)
from bronze_sync.rollback.execute import Progress, RestoreResult, restore_audit, restore_tables
from bronze_sync.rollback.execution_report import record_execution
from bronze_sync.rollback.impact import ImpactReport, analyse, table_text
from bronze_sync.rollback.integrity import OrphanCheck, orphan_checks
from bronze_sync.rollback.postcheck import PostCheck, check_restored, failure_alert
from bronze_sync.rollback.request import (
    RollbackRequest,
    RollbackTarget,
    find_rollback_checkpoint,
    validate_rollback,
)
from bronze_sync.rollback.secret import approval_secret


@dataclass(frozen=True)
class RollbackPlan:
    """A validated rollback request, its impact and the token that approves it."""

    rollback_id: str
    request: RollbackRequest
    checkpoint: Checkpoint
    targets: list[RollbackTarget]
    report: ImpactReport
    token: str


@dataclass
class RollbackOutcome:
    """What a rollback did (nothing to bronze for a dry run)."""

    plan: RollbackPlan
    dry_run: bool
    results: list[RestoreResult] = field(default_factory=list)
    checks: list[PostCheck] = field(default_factory=list)
    post_checkpoint: Checkpoint | None = None
    orphans: list[OrphanCheck] = field(default_factory=list)  # the references after it

    @property
    def success(self) -> bool:
        """Return True when every table was restored and passed validation."""
        return all(r.success for r in self.results) and all(c.passed for c in self.checks)


def prepare_rollback(
    config: Config, store: BronzeStore, request: RollbackRequest, run: RunInfo, now: dt.datetime
) -> RollbackPlan:
    """Validate, analyse the impact, check approval; audit it all (dry runs too)."""
    meta = MetadataStore(store)
    try:
        checkpoint = find_rollback_checkpoint(meta, request)
        targets = validate_rollback(store, checkpoint, request.tables)
        secret = approval_secret(config.rollback.approval_secret)
        approved = not request.dry_run and request.require_approval
        if approved:
            check_token(meta, secret, checkpoint, targets, request.approval_token)
        report = analyse(config, store, checkpoint, targets, now)
        # An execution carries the token it was approved with (used up when it restores).
        given = (request.approval_token or "").strip()
        token = given if approved else approval_token(secret, checkpoint, targets)
    except BronzeSyncError as exc:
        _audit_refusal(meta, run, request, exc, now)
        raise
    plan = RollbackPlan(str(uuid.uuid4()), request, checkpoint, targets, report, token)
    _record_plan(meta, run, plan, now)
    return plan


def execute_rollback(
    config: Config,
    store: BronzeStore,
    plan: RollbackPlan,
    run: RunInfo,
    notifier: Notifier,
    progress: Progress | None = None,
) -> RollbackOutcome:
    """Use up the approval token, snapshot, restore each table, validate, snapshot again,
    report, checkpoint, notify."""
    if plan.request.dry_run:
        notifier.send(dry_run_alert(plan, run))
        return RollbackOutcome(plan, dry_run=True)
    meta = MetadataStore(store)
    ctx = _context(plan, run, dt.datetime.now(dt.UTC))
    if plan.request.require_approval and plan.request.approval_token:
        _use_token(meta, plan, run, ctx.now)
    keys = {t.name: list(t.primary_key) for t in config.tables}
    meta.append(
        ROLLBACK_STATE_SNAPSHOTS,
        [
            reports.snapshot_row(store, t.table, t.current_version, keys[t.table], reports.PRE, ctx)
            for t in plan.targets
        ],
    )
    results = restore_tables(store, plan.targets, run, plan.checkpoint.name, progress, keys)
    who = plan.request.who()
    write_audit(meta, run, [restore_audit(r, plan.checkpoint.name, who) for r in results], ctx.now)
    restored = [r for r in results if r.success and r.new_version is not None]
    planned = {t.table: t.comparison for t in plan.report.tables}
    checks = [
        check_restored(
            store, r.table, r.new_version or 0, keys[r.table], planned[r.table].counts_to
        )
        for r in restored
    ]
    _record_checks(meta, run, plan, checks)
    orphans = orphan_checks(store, config, {r.table: r.new_version or 0 for r in restored})
    outcome = RollbackOutcome(plan, False, results, checks, orphans=orphans)
    record_execution(store, meta, ctx, outcome, keys)
    if restored:
        outcome.post_checkpoint = post_rollback_checkpoint(meta, plan, restored, ctx.now)
    _notify(notifier, outcome, run)
    return outcome


def run_rollback(
    config: Config,
    store: BronzeStore,
    request: RollbackRequest,
    run: RunInfo,
    notifier: Notifier,
    progress: Progress | None = None,
) -> RollbackOutcome:
    """Do every step of a rollback (the rollback_to_checkpoint job's work) in one call."""
    plan = prepare_rollback(config, store, request, run, dt.datetime.now(dt.UTC))
    return execute_rollback(config, store, plan, run, notifier, progress)


def post_rollback_checkpoint(
    meta: MetadataStore, plan: RollbackPlan, restored: list[RestoreResult], now: dt.datetime
) -> Checkpoint:
    """Pin the versions the rollback replaced (PostRollback, 30 days): it undoes the rollback."""
    versions = {r.table: r.target.current_version for r in restored}
    return create_checkpoint(
        meta,
        f"post_rollback_{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}_{plan.rollback_id[:8]}",
        CheckpointType.POST_ROLLBACK,
        versions,
        now,
        plan.request.requested_by,
        notes=(
            f"rollback {plan.rollback_id} to {plan.checkpoint.name}; pins the versions before "
            "that rollback, so rolling back to this checkpoint undoes it"
        ),
    )


def _record_plan(meta: MetadataStore, run: RunInfo, plan: RollbackPlan, now: dt.datetime) -> None:
    who, mode = plan.request.who(), "dry run" if plan.request.dry_run else "execution"
    entries = [
        AuditEntry(
            "RollbackValidation",
            None,
            now,
            rows_processed=len(plan.targets),
            notes=f"{mode}: checkpoint {plan.checkpoint.name} validated for "
            f"{', '.join(t.table for t in plan.targets)}; {who}",
        )
    ]
    for impact in plan.report.tables:
        entries.append(
            AuditEntry(
                "RollbackImpactAnalysis",
                impact.table,
                now,
                rows_processed=impact.comparison.changed_rows,
                delta_version=impact.target.current_version,
                status="Warning" if impact.warnings else "Success",
                notes=f"{mode}: {table_text(impact)}; {who}",
            )
        )
    write_audit(meta, run, entries, now)
    ctx = _context(plan, run, now)
    digest = token_hash(plan.token)
    meta.append(
        ROLLBACK_COMPARISON_REPORTS,
        [
            reports.report_row(
                ctx,
                reports.PLANNED,
                t.comparison,
                status="Planned",
                risk=t.risk.value,
                token_digest=digest,
                notes="; ".join(t.warnings) or None,
            )
            for t in plan.report.tables
        ],
    )


def _use_token(meta: MetadataStore, plan: RollbackPlan, run: RunInfo, now: dt.datetime) -> None:
    """Record the approval token as used, before anything is restored (audited if refused)."""
    use = TokenUse(
        token=plan.token,
        rollback_id=plan.rollback_id,
        run_id=run.run_id,
        checkpoint=plan.checkpoint,
        tables=tuple(t.table for t in plan.targets),
        requested_by=plan.request.requested_by,
        used_at=now,
    )
    try:
        consume_token(meta, use)
    except BronzeSyncError as exc:
        _audit_refusal(meta, run, plan.request, exc, now)
        raise


def _audit_refusal(
    meta: MetadataStore,
    run: RunInfo,
    request: RollbackRequest,
    exc: BronzeSyncError,
    now: dt.datetime,
) -> None:
    entry = AuditEntry(
        "RollbackValidation", None, now, status="Failed", error=str(exc), notes=request.who()
    )
    write_audit(meta, run, [entry], now)


def _record_checks(
    meta: MetadataStore, run: RunInfo, plan: RollbackPlan, checks: list[PostCheck]
) -> None:
    now = dt.datetime.now(dt.UTC)
    write_validation(meta, run, [c.record(plan.checkpoint.name) for c in checks], now)
    entries = [
        AuditEntry(
            "PostRollbackValidation",
            c.table,
            now,
            status="Success" if c.passed else "Failed",
            rows_processed=c.counts["total"],
            rows_deleted=c.counts["deleted"],
            rows_purged=c.counts["purged"],
            delta_version=c.version,
            error="; ".join(c.problems) or None,
            notes=c.record(plan.checkpoint.name).notes,
        )
        for c in checks
    ]
    write_audit(meta, run, entries, now)


def _context(plan: RollbackPlan, run: RunInfo, now: dt.datetime) -> reports.ReportContext:
    return reports.ReportContext(
        rollback_id=plan.rollback_id,
        run_id=run.run_id,
        checkpoint_id=plan.checkpoint.checkpoint_id,
        checkpoint_name=plan.checkpoint.name,
        requested_by=plan.request.requested_by,
        reason=plan.request.reason,
        dry_run=plan.request.dry_run,
        now=now,
    )


def dry_run_alert(plan: RollbackPlan, run: RunInfo) -> Alert:
    """Return the notice of a rollback dry run: its impact, never its approval token."""
    report = plan.report
    return Alert(
        severity=Severity.LOW,
        subject=(
            f"Rollback dry run to {plan.checkpoint.name}: {len(report.tables)} table(s), "
            f"risk {report.risk.value}, {report.total('removed'):,} row(s) would disappear"
        ),
        body=(
            f"{report.to_markdown()}\n\n{plan.request.who()}. Nothing was changed; the "
            "approval token went to the requester only."
        ),
        job=run.pipeline_name,
        run_id=run.run_id,
        tables=tuple(t.table for t in report.tables),
    )


def _notify(notifier: Notifier, outcome: RollbackOutcome, run: RunInfo) -> None:
    plan = outcome.plan
    failed_checks = [c for c in outcome.checks if not c.passed]
    if failed_checks:
        notifier.send(failure_alert(failed_checks, plan.checkpoint.name, run))
    failed = [r for r in outcome.results if not r.success]
    done = [r for r in outcome.results if r.success]
    lines = [f"- {r.table}: v{r.target.current_version} -> v{r.new_version}" for r in done]
    lines += [f"- {r.table}: FAILED, {r.error}" for r in failed]
    undo = outcome.post_checkpoint.name if outcome.post_checkpoint else "none"
    notifier.send(
        Alert(
            severity=Severity.CRITICAL if failed else Severity.MEDIUM,
            subject=(
                f"Rollback to {plan.checkpoint.name}: {len(done)} table(s) restored"
                + (f", {len(failed)} failed" if failed else "")
            ),
            body="\n".join([*lines, "", f"{plan.request.who()}. Undo checkpoint: {undo}."]),
            job=run.pipeline_name,
            run_id=run.run_id,
            tables=tuple(r.table for r in outcome.results),
            error_class="RollbackError" if failed else None,
        )
    )
