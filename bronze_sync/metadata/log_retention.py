"""Retention of the operational logs: SyncAuditLog, DataValidation and AlertLog.

DataValidation and AlertLog rows older than their retention are deleted. SyncAuditLog is a
hash chain, so only a prefix of the chain may go, and never silently: first an
`AuditRetention` row is appended (chained like every row) naming the floor, the ChainSeq and
RowHash of the last row to be removed, then one DELETE removes the rows at or below it.
Verification starts from the newest floor, so the chain still proves every row kept, and a
crash between the two steps leaves rows below the floor that verification skips.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

from bronze_sync.errors import AuditChainError
from bronze_sync.metadata.audit import AuditEntry, RunInfo, write_audit
from bronze_sync.metadata.audit_verify import verify_chain
from bronze_sync.metadata.chain_floor import RETENTION_OPERATION, chain_floor
from bronze_sync.metadata.schemas import DATA_VALIDATION, SYNC_AUDIT_LOG
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.retry import retry_commit

ALERT_LOG = "AlertLog"  # alerts.dedup registers it; named here to keep metadata below alerts
DATE_COLUMNS = {
    SYNC_AUDIT_LOG: "CreatedDate",
    DATA_VALIDATION: "ValidationDate",
    ALERT_LOG: "SentDate",
}


def trim_logs(
    meta: MetadataStore,
    run: RunInfo,
    now: dt.datetime,
    days: Mapping[str, int | None],
    dry_run: bool = False,
) -> dict[str, int]:
    """Delete log rows older than their table's retention (`days`); return rows per table."""
    trimmed: dict[str, int] = {}
    for name, keep in days.items():
        if keep is None or meta.version(name) is None:
            continue
        cutoff = now - dt.timedelta(days=keep)
        if name == SYNC_AUDIT_LOG:
            trimmed[name] = _trim_chain(meta, run, now, cutoff, dry_run)
        else:
            trimmed[name] = _trim_plain(meta, name, cutoff, dry_run)
    return trimmed


def _trim_plain(meta: MetadataStore, name: str, cutoff: dt.datetime, dry_run: bool) -> int:
    column = DATE_COLUMNS[name]
    rows = meta.read(name, [column]).column(column).to_pylist()
    old = sum(1 for when in rows if when is not None and when < cutoff)
    if old and not dry_run:
        stamp = cutoff.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        # The column's own type: a plain CAST gives nanoseconds, which cannot be compared.
        kind = 'Timestamp(Microsecond, Some("UTC"))'
        predicate = f"{column} < arrow_cast('{stamp}', '{kind}')"
        retry_commit(lambda: meta.open_or_create(name).delete(predicate), f"trim metadata/{name}")
    return old


def _trim_chain(
    meta: MetadataStore, run: RunInfo, now: dt.datetime, cutoff: dt.datetime, dry_run: bool
) -> int:
    """Remove the chain's prefix older than `cutoff`, anchored by an AuditRetention row."""
    report = verify_chain(meta)
    if not report.ok:
        # Trimming would destroy the evidence of whatever broke the chain.
        raise AuditChainError(f"SyncAuditLog is not trimmed: {report.problem}")
    rows = sorted(meta.rows(SYNC_AUDIT_LOG), key=lambda r: r["ChainSeq"])
    floor = chain_floor(rows)
    start = floor.tip.seq if floor else -1
    live = [r for r in rows if r["ChainSeq"] > start]
    recent = [r["ChainSeq"] for r in live if r["CreatedDate"] >= cutoff]
    keep_from = min(recent) if recent else live[-1]["ChainSeq"]  # never the tip
    removed = [r for r in live if r["ChainSeq"] < keep_from]
    if not removed or dry_run:
        return len(removed)
    last = removed[-1]
    anchor = {
        "floor_seq": last["ChainSeq"],
        "floor_hash": last["RowHash"],
        "cutoff": cutoff.isoformat(),
        "rows_removed": len(removed),
    }
    entry = AuditEntry(
        RETENTION_OPERATION, None, now, now, rows_processed=len(removed), notes=json.dumps(anchor)
    )
    write_audit(meta, run, [entry], now)
    _delete_through(meta, last["ChainSeq"])
    return len(removed)


def _delete_through(meta: MetadataStore, seq: int) -> None:
    """Delete the chain rows at or below `seq` in one commit."""
    # No tip in this commit's metadata: appenders then read the tip from the rows, which a
    # concurrent append cannot make stale.
    predicate = f"ChainSeq <= {int(seq)}"
    retry_commit(
        lambda: meta.open_or_create(SYNC_AUDIT_LOG).delete(predicate),
        f"trim metadata/{SYNC_AUDIT_LOG}",
    )
