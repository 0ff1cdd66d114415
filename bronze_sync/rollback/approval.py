"""Approval tokens: a dry run's HMAC over (checkpoint, scope, current versions), used once.

Execution recomputes the token from the tables as they are now; any table that changed
since the dry run (a sync, another rollback) changes the token, so the approval no longer
applies. Each dry run's token carries its own nonce, and executing a rollback records the
token as used (metadata/RollbackApprovals), so one approval restores at most once. The key is
`rollback.approval_secret`, else a secret generated for this machine (`secret.py`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from bronze_sync.checkpoints import Checkpoint
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.schemas import ROLLBACK_APPROVALS, ROLLBACK_COMPARISON_REPORTS
from bronze_sync.rollback.request import ApprovalError, RollbackTarget

NONCE_CHARS = 16
MAC_CHARS = 32
PLANNED = "Planned"


def approval_token(
    secret: str, checkpoint: Checkpoint, targets: list[RollbackTarget], nonce: str | None = None
) -> str:
    """Return a token that approves rolling `targets`, as they are now, back to `checkpoint`.

    Without `nonce`, a fresh one: every dry run issues its own token.
    """
    nonce = nonce if nonce is not None else secrets.token_hex(NONCE_CHARS // 2)
    bound = {
        "checkpoint": checkpoint.checkpoint_id,
        "nonce": nonce,
        "versions": {t.table: [t.current_version, t.checkpoint_version] for t in targets},
    }
    payload = json.dumps(bound, sort_keys=True).encode()
    return nonce + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()[:MAC_CHARS]


def token_hash(token: str) -> str:
    """Return the digest stored for a token (the token itself is never stored)."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def check_token(
    meta: MetadataStore,
    secret: str,
    checkpoint: Checkpoint,
    targets: list[RollbackTarget],
    token: str | None,
) -> None:
    """Raise ApprovalError unless `token` approves exactly this rollback of the tables as now,
    and has not been used yet."""
    if not token:
        raise ApprovalError(
            "execution needs the approval token of a dry run (require_approval is on): run the "
            "dry run, review its impact, then pass its token (CLI: --approval-token)"
        )
    token = token.strip()
    used = token_use(meta, token_hash(token))
    if used is not None:
        raise ApprovalError(used_message(used))
    expected = approval_token(secret, checkpoint, targets, nonce=token[:NONCE_CHARS])
    if hmac.compare_digest(expected, token):
        return
    planned = _planned(meta, token_hash(token))
    if not planned:
        raise ApprovalError(
            f"the approval token does not belong to a dry run of checkpoint {checkpoint.name} "
            "with these tables; run the dry run again and use its token"
        )
    changed = [
        f"{t.table} (v{planned[t.table][0]} at the dry run, v{t.current_version} now)"
        for t in targets
        if t.table in planned and planned[t.table][0] != t.current_version
    ]
    if changed:
        raise ApprovalError(
            "the approval token is stale: "
            + ", ".join(changed)
            + " changed since the dry run; run the dry run again and review the new impact"
        )
    same_scope = set(planned) == {t.table for t in targets} and all(
        cp == checkpoint.checkpoint_id for _, cp in planned.values()
    )
    if same_scope:  # same checkpoint, tables and versions: only the key can differ
        raise ApprovalError(
            "the approval token was signed with another approval secret (the dry run ran where "
            "rollback.approval_secret or the generated secret differs); run the dry run where "
            "you execute"
        )
    raise ApprovalError(
        "the approval token was issued for another checkpoint or table scope; run the dry run "
        "with the same --checkpoint and --tables"
    )


@dataclass(frozen=True)
class TokenUse:
    """One execution that used an approval token."""

    token: str
    rollback_id: str
    run_id: str
    checkpoint: Checkpoint
    tables: tuple[str, ...]
    requested_by: str
    used_at: dt.datetime

    def row(self) -> dict[str, Any]:
        """Return the RollbackApprovals row of this use."""
        return {
            "TokenHash": token_hash(self.token),
            "RollbackId": self.rollback_id,
            "PipelineRunId": self.run_id,
            "CheckpointId": self.checkpoint.checkpoint_id,
            "CheckpointName": self.checkpoint.name,
            "TablesIncluded": ",".join(self.tables),
            "RequestedBy": self.requested_by,
            "UsedDate": self.used_at,
        }


def consume_token(meta: MetadataStore, use: TokenUse) -> None:
    """Record the token as used by this rollback; raise ApprovalError if another used it first.

    The insert is a MERGE on TokenHash: of two executions racing with one token, Delta lets
    one commit and makes the other re-read, where it finds the first one's row.
    """
    row = use.row()
    meta.insert_new(ROLLBACK_APPROVALS, [row], keys=["TokenHash"])
    first = token_use(meta, row["TokenHash"])
    if first is None or first["RollbackId"] != use.rollback_id:
        raise ApprovalError(used_message(first or row))


def token_use(meta: MetadataStore, digest: str) -> dict[str, Any] | None:
    """Return the RollbackApprovals row of the token with `digest`, or None if unused."""
    uses = [r for r in meta.rows(ROLLBACK_APPROVALS) if r["TokenHash"] == digest]
    return min(uses, key=lambda r: r["UsedDate"]) if uses else None


def used_message(use: dict[str, Any]) -> str:
    """Return the refusal for a token that was already used."""
    when = use["UsedDate"].astimezone(dt.UTC)
    return (
        f"approval token already used by rollback run {use['PipelineRunId']} at "
        f"{when:%Y-%m-%d %H:%M:%S} UTC (rollback {use['RollbackId'][:8]} to "
        f"{use['CheckpointName']}); an approval restores once: run the dry run again for a "
        "new token"
    )


def _planned(meta: MetadataStore, digest: str) -> dict[str, tuple[int, str]]:
    """Return table -> (version at the dry run, checkpoint id) of the dry run that issued it."""
    reports = meta.read(
        ROLLBACK_COMPARISON_REPORTS,
        columns=["ReportType", "ApprovalTokenHash", "TableName", "CurrentVersion", "CheckpointId"],
    ).to_pylist()
    return {
        r["TableName"]: (r["CurrentVersion"], r["CheckpointId"])
        for r in reports
        if r["ReportType"] == PLANNED and r["ApprovalTokenHash"] == digest
    }
