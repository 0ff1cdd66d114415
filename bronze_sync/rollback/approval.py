"""Approval tokens: a dry run's HMAC over (checkpoint, scope, current versions).

Execution recomputes the token from the tables as they are now; any table that changed
since the dry run (a sync, another rollback) changes the token, so the approval no longer
applies. The key is `rollback.approval_secret` (give it as `${VAR}`); without one, tokens
still bind the state but anyone who can read the code can forge them.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from bronze_sync.checkpoints import Checkpoint
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.schemas import ROLLBACK_COMPARISON_REPORTS
from bronze_sync.rollback.request import ApprovalError, RollbackTarget

TOKEN_CHARS = 32
PLANNED = "Planned"


def approval_token(secret: str, checkpoint: Checkpoint, targets: list[RollbackTarget]) -> str:
    """Return the token that approves rolling `targets`, as they are now, back to `checkpoint`."""
    bound = {
        "checkpoint": checkpoint.checkpoint_id,
        "versions": {t.table: [t.current_version, t.checkpoint_version] for t in targets},
    }
    payload = json.dumps(bound, sort_keys=True).encode()
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()[:TOKEN_CHARS]


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
    """Raise ApprovalError unless `token` approves exactly this rollback of the tables as now."""
    if not token:
        raise ApprovalError(
            "execution needs the approval token of a dry run (require_approval is on): run the "
            "dry run, review its impact, then pass its token (CLI: --approval-token)"
        )
    expected = approval_token(secret, checkpoint, targets)
    if hmac.compare_digest(expected, token.strip()):
        return
    planned = _planned_versions(meta, token_hash(token))
    if not planned:
        raise ApprovalError(
            f"the approval token does not belong to a dry run of checkpoint {checkpoint.name} "
            "with these tables; run the dry run again and use its token"
        )
    changed = [
        f"{t.table} (v{planned[t.table]} at the dry run, v{t.current_version} now)"
        for t in targets
        if t.table in planned and planned[t.table] != t.current_version
    ]
    if changed:
        raise ApprovalError(
            "the approval token is stale: "
            + ", ".join(changed)
            + " changed since the dry run; run the dry run again and review the new impact"
        )
    raise ApprovalError(
        "the approval token was issued for another checkpoint or table scope; run the dry run "
        "with the same --checkpoint and --tables"
    )


def _planned_versions(meta: MetadataStore, digest: str) -> dict[str, int]:
    reports = meta.read(
        ROLLBACK_COMPARISON_REPORTS,
        columns=["ReportType", "ApprovalTokenHash", "TableName", "CurrentVersion"],
    ).to_pylist()
    return {
        r["TableName"]: r["CurrentVersion"]
        for r in reports
        if r["ReportType"] == PLANNED and r["ApprovalTokenHash"] == digest
    }
