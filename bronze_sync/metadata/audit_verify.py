"""Verify SyncAuditLog's hash chain, and seal a log written before the chain existed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bronze_sync.errors import AuditChainError
from bronze_sync.metadata.audit_chain import (
    CHAIN_COLUMNS,
    EMPTY,
    RECENT_COMMITS,
    TIP_KEY,
    Tip,
    link,
    parse_tip,
    row_hash,
    tip_text,
)
from bronze_sync.metadata.chain_floor import chain_floor
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.retry import retry_commit

SEAL_COMMAND = "bronze-sync audit verify --seal"


@dataclass(frozen=True)
class ChainReport:
    """What verification found: the rows checked, the tip, the first broken row."""

    rows: int
    tip: Tip
    problem: str | None = None
    log_id: str | None = None  # the first altered, removed-before, inserted or reordered row
    unsealed: int = 0  # rows written before the chain (no RowHash)

    @property
    def ok(self) -> bool:
        """Return True when the whole log is chained and the chain holds."""
        return self.problem is None


def verify_chain(meta: MetadataStore) -> ChainReport:
    """Check every SyncAuditLog row against its hash and its predecessor, in chain order."""
    delta = meta.store.open(meta.uri(SYNC_AUDIT_LOG))
    rows = meta.rows(SYNC_AUDIT_LOG) if delta is not None else []
    unsealed = [r for r in rows if r["RowHash"] is None]
    floor = chain_floor(rows)
    start = floor.tip if floor is not None else EMPTY
    chained = sorted(
        (r for r in rows if r["RowHash"] is not None and r["ChainSeq"] > start.seq),
        key=lambda r: r["ChainSeq"],
    )
    report = _walk(chained, start)
    if report.ok and delta is not None:
        report = _tail_check(report, _recorded_tip(delta))
    if report.ok and unsealed:
        first = min(unsealed, key=_age)
        return ChainReport(
            len(rows),
            report.tip,
            f"{len(unsealed)} row(s) were written before the hash chain and carry no hash; "
            f"run `{SEAL_COMMAND}` once to seal them",
            first["LogId"],
            len(unsealed),
        )
    return ChainReport(len(rows), report.tip, report.problem, report.log_id, len(unsealed))


def _walk(chained: list[dict[str, Any]], start: Tip = EMPTY) -> ChainReport:
    previous = start
    for row in chained:
        seq, log_id = row["ChainSeq"], row["LogId"]
        expected = previous.seq + 1
        if seq is None or seq < expected:
            return _broken(previous, log_id, f"repeats ChainSeq {seq}: inserted or reordered")
        if seq > expected:
            return _broken(previous, log_id, f"follows ChainSeq {previous.seq}: removed before it")
        if row_hash(row) != row["RowHash"]:
            return _broken(previous, log_id, f"(ChainSeq {seq}) was altered: its hash differs")
        if row["PrevHash"] != previous.row_hash:
            return _broken(
                previous, log_id, f"(ChainSeq {seq}) does not follow its predecessor: reordered"
            )
        previous = Tip(seq, row["RowHash"])
    return ChainReport(len(chained), previous)


def _broken(tip: Tip, log_id: str, what: str) -> ChainReport:
    return ChainReport(0, tip, f"row LogId {log_id} {what}", log_id)


def _tail_check(report: ChainReport, recorded: Tip | None) -> ChainReport:
    """Fail when a recent commit recorded a tip beyond the chain's last row (rows cut off)."""
    if recorded is None or recorded.seq <= report.tip.seq:
        return report
    return ChainReport(
        report.rows,
        report.tip,
        f"rows after ChainSeq {report.tip.seq} were removed: a commit recorded ChainSeq "
        f"{recorded.seq} as the tip",
        None,
    )


def _recorded_tip(delta: Any) -> Tip | None:
    tips = [
        parse_tip(info[TIP_KEY])
        for info in delta.history(RECENT_COMMITS)
        if isinstance(info.get(TIP_KEY), str)
    ]
    return max(tips, key=lambda tip: tip.seq, default=None)


def seal_chain(meta: MetadataStore) -> int:
    """Chain the rows written before the chain (oldest first) in one commit; return how many."""
    return retry_commit(lambda: _seal_once(meta), f"seal metadata/{SYNC_AUDIT_LOG}")


def _seal_once(meta: MetadataStore) -> int:
    delta = meta.store.open(meta.uri(SYNC_AUDIT_LOG))
    if delta is None:
        return 0
    rows = delta.to_pyarrow_dataset().to_table().to_pylist()
    for row in rows:
        for column in CHAIN_COLUMNS:
            row.setdefault(column, None)
    unsealed = sorted((r for r in rows if r["RowHash"] is None), key=_age)
    if not unsealed:
        return 0
    chained = sorted((r for r in rows if r["RowHash"] is not None), key=lambda r: r["ChainSeq"])
    check = _walk(chained)
    if not check.ok:
        # Relinking would give tampered rows fresh, valid hashes.
        raise AuditChainError(f"cannot seal: the chained rows fail verification: {check.problem}")
    linked = link([*unsealed, *chained], EMPTY)
    # Pinned to the version read: a writer that appended meanwhile makes this commit fail
    # (CommitFailedError), and retry_commit seals again from the new content.
    meta.write_at(delta, SYNC_AUDIT_LOG, linked, {TIP_KEY: tip_text(linked[-1])}, "overwrite")
    return len(unsealed)


def _age(row: dict[str, Any]) -> tuple[dt.datetime, dt.datetime, str]:
    far = dt.datetime.min.replace(tzinfo=dt.UTC)
    return (row["CreatedDate"] or far, row["StartTime"] or far, row["LogId"] or "")
