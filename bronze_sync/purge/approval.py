"""Purge approval (`purge.require_approval`): a dry run's token, the governance sign-off.

As for rollbacks, the token is an HMAC over the request and the tables' versions at the dry
run, with its own nonce: a table that changed since (a sync, another purge's checkpoint)
or another date, table list or force changes the token, and execution is refused. Each
token records one purge (metadata/PurgeApprovals, a MERGE on its hash). The key is the
rollback approval key (`rollback.approval_secret`, else this machine's generated secret).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets

import pyarrow as pa

from bronze_sync.errors import BronzeSyncError
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.schemas import TS, register_schema
from bronze_sync.purge.request import Approval, PurgeRequest, PurgeTarget, PurgeValidationError

PURGE_APPROVALS = "PurgeApprovals"
NONCE_CHARS = 16
MAC_CHARS = 32

register_schema(
    PURGE_APPROVALS,
    pa.schema(
        [
            ("TokenHash", pa.string()),
            ("PurgeDate", TS),
            ("TablesIncluded", pa.string()),
            ("ApprovedBy", pa.string()),
            ("PipelineRunId", pa.string()),
            ("UsedDate", TS),
        ]
    ),
)


class PurgeApprovalError(BronzeSyncError):
    """The purge's approval token is missing, stale, for another request or used already."""

    exit_code = 1


def purge_token(
    secret: str, request: PurgeRequest, targets: list[PurgeTarget], nonce: str | None = None
) -> str:
    """Return the token approving `request` on the tables as they are now (fresh nonce if None)."""
    nonce = nonce if nonce is not None else secrets.token_hex(NONCE_CHARS // 2)
    bound = {
        "kind": "purge",
        "nonce": nonce,
        "purge_date": request.purge_date.isoformat(),
        "force": request.force,
        "checkpoint": request.create_pre_purge_checkpoint,
        "versions": {t.table.name: t.version for t in targets},
    }
    payload = json.dumps(bound, sort_keys=True).encode()
    return nonce + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()[:MAC_CHARS]


def require_approval(approval: Approval | None) -> Approval:
    """Return the approval an execution needs; PurgeValidationError (exit 2) when missing."""
    if approval is None or not approval.token.strip() or not approval.approved_by.strip():
        raise PurgeValidationError(
            "purge.require_approval is on: run the dry run, have it approved, then execute "
            "with its token and the approver (CLI: --execute --approval-token T --approved-by "
            "NAME; job: approval_token, approved_by)"
        )
    return approval


def check_token(
    meta: MetadataStore,
    secret: str,
    request: PurgeRequest,
    targets: list[PurgeTarget],
    approval: Approval,
) -> None:
    """Raise PurgeApprovalError unless the token approves exactly this purge, unused."""
    token = approval.token.strip()
    used = _use(meta, token_hash(token))
    if used is not None:
        raise PurgeApprovalError(_used_message(used))
    expected = purge_token(secret, request, targets, nonce=token[:NONCE_CHARS])
    if not hmac.compare_digest(expected, token):
        versions = ", ".join(f"{t.table.name} v{t.version}" for t in targets)
        raise PurgeApprovalError(
            "the approval token does not approve this purge as the tables are now "
            f"({versions}): a table changed since the dry run, or the purge date, tables or "
            "--force differ (or the dry run ran with another approval secret); run the dry "
            "run again and have its new token approved. Nothing was written"
        )


def consume_token(
    meta: MetadataStore, request: PurgeRequest, approval: Approval, run_id: str, now: dt.datetime
) -> None:
    """Record the token as used by this purge; PurgeApprovalError if another used it first."""
    digest = token_hash(approval.token)
    row: dict[str, object] = {
        "TokenHash": digest,
        "PurgeDate": request.cutoff,
        "TablesIncluded": ",".join(request.tables or ["All"]),
        "ApprovedBy": approval.approved_by.strip(),
        "PipelineRunId": run_id,
        "UsedDate": now,
    }
    meta.insert_new(PURGE_APPROVALS, [row], keys=["TokenHash"])
    first = _use(meta, digest)
    if first is None or first["PipelineRunId"] != run_id:
        raise PurgeApprovalError(_used_message(first or row))


def token_hash(token: str) -> str:
    """Return the digest stored for a token (the token itself is never stored)."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def _use(meta: MetadataStore, digest: str) -> dict[str, object] | None:
    if meta.version(PURGE_APPROVALS) is None:
        return None
    uses = [r for r in meta.rows(PURGE_APPROVALS) if r["TokenHash"] == digest]
    return min(uses, key=lambda r: r["UsedDate"]) if uses else None


def _used_message(use: dict[str, object]) -> str:
    when = use["UsedDate"]
    if isinstance(when, dt.datetime):
        when = f"{when.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}"
    return (
        f"the approval token was already used by purge run {use['PipelineRunId']} at {when} "
        f"UTC (approved by {use['ApprovedBy']}); an approval records one purge: run the dry "
        "run again for a new token"
    )
