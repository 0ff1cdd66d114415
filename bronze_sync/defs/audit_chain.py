"""The daily check of SyncAuditLog's hash chain, run with the health report."""

from __future__ import annotations

import dagster as dg

from bronze_sync.defs.resources import BronzeStorageResource
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.audit_verify import verify_chain


@dg.asset_check(
    asset="health_report",
    name="audit_chain_intact",
    description="ERROR: SyncAuditLog's hash chain holds: no row altered, removed, inserted or "
    "reordered (bronze-sync audit verify)",
)
def audit_chain_intact(bronze: BronzeStorageResource) -> dg.AssetCheckResult:
    """Verify SyncAuditLog's hash chain; fail naming the first broken row."""
    report = verify_chain(MetadataStore(bronze.store()))
    metadata: dict[str, str | int] = {
        "rows": report.rows,
        "tip_chain_seq": report.tip.seq,
        "tip_hash": report.tip.row_hash,
        "unsealed_rows": report.unsealed,
    }
    if report.log_id:
        metadata["log_id"] = report.log_id
    return dg.AssetCheckResult(
        passed=report.ok,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
        description=report.problem or f"{report.rows:,} audit rows chained and intact",
    )
