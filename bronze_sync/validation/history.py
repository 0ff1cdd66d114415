"""Checks against the metadata history: source counts, checkpoints, freshness, spikes."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.checkpoints.commits import CommitIdentity, identities_from_json
from bronze_sync.checkpoints.integrity import check_restorable
from bronze_sync.checkpoints.repair import CHECKPOINT_OPERATION as REPAIR_OPERATION
from bronze_sync.clock import as_utc
from bronze_sync.metadata.schemas import CHECKPOINT_HISTORY
from bronze_sync.validation.model import CheckContext, CheckResult, CheckSeverity

ERROR, WARN = CheckSeverity.ERROR, CheckSeverity.WARN
SYNC_OPERATIONS = ["DataSync", "InitialSync"]
SPIKE_MIN_HISTORY = 7


def _where(data: pa.Table, column: str, values: list[str]) -> pa.Table:
    return data.filter(pc.fill_null(pc.is_in(data.column(column), pa.array(values)), False))


def _last(data: pa.Table) -> dict | None:
    return data.slice(data.num_rows - 1).to_pylist()[0] if data.num_rows else None


def source_reconciled(ctx: CheckContext) -> CheckResult:
    """Check that the source count at the last full key scan equals bronze's active rows."""
    name = "source_reconciled"
    last = _last(_where(ctx.validations, "ValidationContext", ["DailySync"]))
    active = ctx.counts["active"]
    if last is None or last["SourceRowCount"] is None:
        note = (
            "skipped: the last sync did not scan all source keys (incremental without delete "
            "tracking), so there is no source count to compare"
            if last
            else "skipped: no sync has been validated yet"
        )
        return CheckResult(
            name, ctx.table.name, ERROR, True, note, {"active_rows": active}, skipped=True
        )
    source = int(last["SourceRowCount"])
    ok = source == active
    figures = {
        "source_rows": source,
        "active_rows": active,
        "difference": active - source,
        "source_counted_at": last["ValidationDate"].isoformat(),
    }
    message = (
        f"source {source:,} rows = bronze {active:,} active rows"
        if ok
        else f"source had {source:,} rows at the last full key scan but bronze holds "
        f"{active:,} active rows ({active - source:+,})"
    )
    return CheckResult(name, ctx.table.name, ERROR, ok, message, figures)


def checkpoint_recorded(ctx: CheckContext) -> CheckResult:
    """Check that the last successful sync has a checkpoint whose Delta version exists."""
    name = "checkpoint_recorded"
    syncs = _where(_where(ctx.audit, "Operation", SYNC_OPERATIONS), "Status", ["Success"])
    last = _last(syncs)
    if last is None or last["DeltaVersion"] is None:
        return CheckResult(
            name,
            ctx.table.name,
            ERROR,
            False,
            "no successful sync with a Delta version is recorded",
            {},
        )
    version = int(last["DeltaVersion"])
    pinning = _checkpoints_pinning(ctx, version)
    names = [n for n, _ in pinning]
    figures: dict[str, object] = {"delta_version": version, "checkpoints": len(names)}
    if not names:
        message = f"no active checkpoint pins version {version} of the last successful sync"
        if _checkpoint_pending(ctx, version):
            # Audited and alerted when the sync ran; the next sync or the batch sensor
            # records it: fail the check without blocking (failing) the committed sync.
            message += (
                f": its checkpoint failed after the commit ({REPAIR_OPERATION} Warning); the "
                "next sync or the batch checkpoint sensor records it"
            )
            return CheckResult(name, ctx.table.name, WARN, False, message, figures)
        return CheckResult(name, ctx.table.name, ERROR, False, message, figures)
    restorable = check_restorable(ctx.store, ctx.table.name, version, pinning[0][1])
    figures["checkpoint"] = names[0]
    if not restorable.restorable:
        return CheckResult(
            name,
            ctx.table.name,
            ERROR,
            False,
            f"checkpoint {names[0]}: {restorable.reason}",
            figures,
        )
    return CheckResult(
        name,
        ctx.table.name,
        ERROR,
        True,
        f"checkpoint {names[0]} pins restorable version {version}",
        figures,
    )


def _checkpoint_pending(ctx: CheckContext, version: int) -> bool:
    """Return True when the sync of `version` audited its checkpoint as failed, unrepaired."""
    rows = _where(ctx.audit, "Operation", [REPAIR_OPERATION]).to_pylist()
    last = [r for r in rows if r["DeltaVersion"] == version]
    return bool(last) and last[-1]["Status"] == "Warning"


def _checkpoints_pinning(
    ctx: CheckContext, version: int
) -> list[tuple[str, CommitIdentity | None]]:
    """Return the active checkpoints pinning `version`, newest first, with the commit pinned."""
    data = ctx.meta.read(
        CHECKPOINT_HISTORY,
        ["CheckpointName", "IsActive", "TableVersions", "TableCommits", "CreatedDate"],
    )
    quoted = json.dumps(ctx.table.name)
    mine = data.filter(
        pc.and_(
            pc.fill_null(data.column("IsActive"), False),
            pc.match_substring(data.column("TableVersions"), quoted),
        )
    )
    mine = mine.sort_by([("CreatedDate", "descending")])
    # Only checkpoints naming this table remain: a handful of small JSON objects.
    return [
        (row["CheckpointName"], identities_from_json(row["TableCommits"]).get(ctx.table.name))
        for row in mine.to_pylist()
        if json.loads(row["TableVersions"]).get(ctx.table.name) == version
    ]


def fresh(ctx: CheckContext) -> CheckResult:
    """Warn when the table's last successful sync is older than `freshness_hours`."""
    limit = ctx.table.freshness_hours
    last = ctx.config_row.get("LastDailySync")
    figures: dict[str, object] = {"freshness_hours": limit}
    if last is None:
        return CheckResult(
            "fresh", ctx.table.name, WARN, False, "never synced successfully", figures
        )
    age = (ctx.now - as_utc(last)).total_seconds() / 3600
    figures.update(age_hours=round(age, 2), last_synced=as_utc(last).isoformat())
    ok = age <= limit
    message = f"last successful sync {age:.1f} h ago (limit {limit:g} h)"
    return CheckResult("fresh", ctx.table.name, WARN, ok, message, figures)


def delete_spike(ctx: CheckContext) -> CheckResult:
    """Warn when the last sync's deletes exceed the history's mean by `delete_spike_sigmas`."""
    name = "delete_spike"
    runs = _where(_where(ctx.audit, "Operation", ["DeleteDetection"]), "Status", ["Success"])
    deletes = runs.column("RowsDeleted").to_numpy(zero_copy_only=False).astype(float)
    history, last = deletes[:-1], (float(deletes[-1]) if len(deletes) else 0.0)
    figures: dict[str, object] = {"last_deletes": int(last), "history_syncs": len(history)}
    if len(history) < SPIKE_MIN_HISTORY:
        return CheckResult(
            name,
            ctx.table.name,
            WARN,
            True,
            f"skipped: {len(history)} earlier sync(s), {SPIKE_MIN_HISTORY} needed",
            figures,
            skipped=True,
        )
    mean, sigma = float(history.mean()), float(history.std())
    # A flat history (sigma 0) would flag a single delete: sigma is at least one row.
    sigmas = ctx.table.delete_spike_sigmas
    threshold = mean + sigmas * max(sigma, 1.0)
    figures.update(mean=round(mean, 2), sigma=round(sigma, 2), threshold=round(threshold, 2))
    ok = last <= threshold
    message = (
        f"{int(last):,} deletes in the last sync, threshold {threshold:,.1f} "
        f"(mean {mean:,.1f} + {sigmas:g} x sigma {sigma:,.1f})"
    )
    return CheckResult(name, ctx.table.name, WARN, ok, message, figures)


def unexpected_purge(ctx: CheckContext) -> CheckResult:
    """Warn when the last sync flagged purges but no purge was recorded since the sync before."""
    name = "unexpected_purge"
    runs = _where(_where(ctx.audit, "Operation", ["DeleteDetection"]), "Status", ["Success"])
    if not runs.num_rows:
        return CheckResult(
            name, ctx.table.name, WARN, True, "no sync has detected deletes yet", {}, skipped=True
        )
    rows = runs.slice(max(0, runs.num_rows - 2)).to_pylist()
    last, previous = rows[-1], (rows[0] if len(rows) == 2 else None)
    purged = int(last["RowsPurged"] or 0)
    recorded: dt.datetime | None = ctx.config_row.get("LastPurgeRecorded")
    since = previous["StartTime"] if previous else None
    figures: dict[str, object] = {
        "last_purged": purged,
        "purge_recorded": recorded.isoformat() if recorded else None,
    }
    expected = recorded is not None and (since is None or as_utc(recorded) >= as_utc(since))
    ok = purged == 0 or expected
    message = f"{purged:,} purge(s) in the last sync" + (
        "" if ok else ", but no purge was recorded since the sync before it"
    )
    return CheckResult(name, ctx.table.name, WARN, ok, message, figures)
