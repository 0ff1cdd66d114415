"""The audit is complete: every bronze version in the Delta log has its SyncAuditLog rows."""

from __future__ import annotations

from bronze_sync.metadata.audit import audited_versions
from bronze_sync.metadata.chain_floor import RETENTION_OPERATION, chain_floor
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync.validation.model import CheckContext, CheckResult, CheckSeverity

SHOWN = 10


def audit_complete(ctx: CheckContext) -> CheckResult:
    """Check that every version the table's log holds is named by a SyncAuditLog row."""
    assert ctx.delta is not None
    retained = ctx.meta.read(SYNC_AUDIT_LOG, ["Operation", "Notes", "RowHash"]).to_pylist()
    floor = chain_floor([r for r in retained if r["Operation"] == RETENTION_OPERATION])
    # Audit rows older than the log retention were removed on purpose (an AuditRetention
    # row records it): versions committed before that cutoff need none.
    since = int(floor.cutoff.timestamp() * 1000) if floor is not None else None
    versions = {
        int(entry["version"])
        for entry in ctx.delta.history()
        if since is None or int(entry.get("timestamp", 0)) >= since
    }
    columns = ["DeltaVersion", "Operation", "CreatedDate"]
    audited = audited_versions(ctx.audit.select(columns).to_pylist())
    missing = sorted(versions - audited)
    figures = {"versions": len(versions), "unaudited": len(missing)}
    if not missing:
        message = f"every one of the {len(versions):,} versions in the log has audit rows"
        return CheckResult(
            "audit_complete", ctx.table.name, CheckSeverity.ERROR, True, message, figures
        )
    shown = ", ".join(str(v) for v in missing[:SHOWN]) + (" ..." if len(missing) > SHOWN else "")
    message = (
        f"{len(missing):,} bronze version(s) have no audit row: {shown}. A run probably stopped "
        "after its commit; the next sync of the table writes them from the commits' metadata"
    )
    figures["first_unaudited"] = missing[0]
    return CheckResult(
        "audit_complete", ctx.table.name, CheckSeverity.ERROR, False, message, figures
    )
