"""Plan a VACUUM and a log cleanup that keep every version an active checkpoint pins.

VACUUM deletes data files; log cleanup deletes JSON commits. Either can silently turn a
checkpoint into one that cannot be restored. The plan names, per table, the versions
active checkpoints pin, protects them (`keep_versions`, or a retention that covers the
oldest one), then verifies with a dry run that no file a pinned version needs is on the
deletion list. When that cannot be guaranteed, the plan says skip, and names the checkpoint.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from bronze_sync.bronze.properties import LOG_RETENTION, retention_days
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints.model import Checkpoint
from bronze_sync.config.models import TableSettings
from bronze_sync.maintenance.storage import LOG_DIR, list_files

KEEP_VERSIONS = "keep_versions"
RETENTION = "retention"
DELTA_DEFAULT_LOG_RETENTION_DAYS = 30.0
_LOG_FILE = re.compile(r"(\d{20})\.(json|checkpoint\.parquet|checkpoint\.\d+\.\d+\.parquet)$")


@dataclass(frozen=True)
class Pin:
    """A Delta version of one table and the active checkpoints that pin it."""

    version: int
    checkpoints: tuple[str, ...]


@dataclass
class VacuumPlan:
    """What VACUUM will do to one table, or why it must not run."""

    table: str
    retention_hours: int
    enforce_retention: bool
    strategy: str
    pins: list[Pin]
    keep_versions: list[int] | None = None
    candidates: list[str] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)
    reason: str | None = None

    @property
    def safe(self) -> bool:
        """Return True when VACUUM may run."""
        return self.reason is None


def keep_versions_supported() -> bool:
    """Return True when the installed deltalake's vacuum takes `keep_versions`."""
    return "keep_versions" in inspect.signature(DeltaTable.vacuum).parameters


def table_pins(checkpoints: Sequence[Checkpoint], table: str) -> list[Pin]:
    """Return the versions of `table` the given (active) checkpoints pin, oldest first."""
    by_version: dict[int, list[str]] = {}
    for checkpoint in checkpoints:
        if checkpoint.is_active and table in checkpoint.table_versions:
            by_version.setdefault(checkpoint.table_versions[table], []).append(checkpoint.name)
    return [Pin(v, tuple(sorted(names))) for v, names in sorted(by_version.items())]


def version_files(store: BronzeStore, uri: str, version: int) -> set[str]:
    """Return the data files (relative paths) version `version` of the table needs."""
    pinned = DeltaTable(uri, version=version, storage_options=store.options())
    return set(pa.table(pinned.get_add_actions(flatten=True)).column("path").to_pylist())


def commit_time(store: BronzeStore, uri: str, version: int) -> dt.datetime:
    """Return when version `version` of the table was committed (Delta's own clock)."""
    history = DeltaTable(uri, version=version, storage_options=store.options()).history(1)
    return dt.datetime.fromtimestamp(history[0]["timestamp"] / 1000, tz=dt.UTC)


def plan_vacuum(
    store: BronzeStore,
    delta: DeltaTable,
    table: str,
    settings: TableSettings,
    pins: list[Pin],
    *,
    strategy: str | None = None,
    wall_now: dt.datetime | None = None,
) -> VacuumPlan:
    """Return the VACUUM plan of one table: retention, protected versions, files to remove."""
    strategy = strategy or (KEEP_VERSIONS if keep_versions_supported() else RETENTION)
    plan = VacuumPlan(
        table,
        settings.vacuum_retention_hours,
        not settings.allow_short_retention,
        strategy,
        pins,
        keep_versions=[p.version for p in pins] if strategy == KEEP_VERSIONS else None,
    )
    uri = delta.table_uri
    needed: dict[int, set[str]] = {}
    for pin in pins:
        try:
            needed[pin.version] = version_files(store, uri, pin.version)
        except (DeltaError, TableNotFoundError, OSError) as exc:
            return _block(
                plan,
                [pin],
                f"version {pin.version} cannot be loaded ({_line(exc)}), "
                "so the files it needs are unknown",
            )
    if strategy == RETENTION and pins:
        age = (wall_now or dt.datetime.now(dt.UTC)) - commit_time(store, uri, pins[0].version)
        hours = math.ceil(age.total_seconds() / 3600) + 1
        if hours > plan.retention_hours:
            return _block(
                plan,
                [pins[0]],
                f"vacuum_retention_hours {plan.retention_hours} "
                f"would remove files version {pins[0].version} needs; it needs at "
                f"least {hours} h (this deltalake has no keep_versions)",
            )
    plan.candidates = sorted(run_vacuum(delta, plan, dry_run=True))
    doomed = set(plan.candidates)
    broken = [p for p in pins if needed[p.version] & doomed]
    if broken:
        return _block(plan, broken, "VACUUM would remove data files these versions need")
    return plan


def run_vacuum(delta: DeltaTable, plan: VacuumPlan, *, dry_run: bool) -> list[str]:
    """Run (or dry-run) the planned full VACUUM; return the files removed (or to remove)."""
    vacuum = functools.partial(
        delta.vacuum,
        retention_hours=plan.retention_hours,
        dry_run=dry_run,
        enforce_retention_duration=plan.enforce_retention,
        full=True,
    )
    # Only pass keep_versions when planned: older deltalake releases do not take it.
    return vacuum() if plan.keep_versions is None else vacuum(keep_versions=plan.keep_versions)


def _block(plan: VacuumPlan, pins: Sequence[Pin], why: str) -> VacuumPlan:
    plan.blocked_by = sorted({name for p in pins for name in p.checkpoints})
    versions = ", ".join(str(p.version) for p in pins)
    plan.reason = (
        f"VACUUM skipped for {plan.table}: {why}; pinned version(s) {versions} by active "
        f"checkpoint(s) {', '.join(plan.blocked_by)}"
    )
    return plan


def _line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


@dataclass(frozen=True)
class LogCleanupPlan:
    """Which JSON commits log cleanup would remove, or why it must not run."""

    table: str
    retention_days: float
    expired: list[str]
    reason: str | None = None

    @property
    def safe(self) -> bool:
        """Return True when log cleanup may run."""
        return self.reason is None


def plan_log_cleanup(
    store: BronzeStore,
    delta: DeltaTable,
    table: str,
    pins: list[Pin],
    wall_now: dt.datetime | None = None,
) -> LogCleanupPlan:
    """Return the log cleanup plan: commits older than delta.logRetentionDuration may go.

    Cleanup removes log files older than the retention that precede the newest Delta
    checkpoint (maintenance writes one at the current version first). A pinned version
    needs the log from the newest Delta checkpoint at or before it onwards; if any of those
    files is already past the retention, cleanup is skipped for the table.
    """
    configured = (delta.metadata().configuration or {}).get(LOG_RETENTION)
    days = retention_days(configured) or DELTA_DEFAULT_LOG_RETENTION_DAYS
    cutoff = (wall_now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)
    logs = _log_files(store, delta.table_uri)
    current = delta.version()
    expired = [path for version, path, mtime in logs if version < current and mtime < cutoff]
    if not pins:
        return LogCleanupPlan(table, days, expired)
    oldest = pins[0].version
    starts = [v for v, path, _ in logs if v <= oldest and ".checkpoint" in path]
    start = max(starts, default=0)
    needed_old = [p for v, p, mtime in logs if start <= v <= pins[-1].version and mtime < cutoff]
    if needed_old:
        names = ", ".join(sorted({n for p in pins for n in p.checkpoints if p.version == oldest}))
        return LogCleanupPlan(
            table,
            days,
            expired,
            f"log cleanup skipped for {table}: {len(needed_old)} log file(s) that version "
            f"{oldest} (pinned by {names}) needs are older than delta.logRetentionDuration "
            f"({configured or f'{days:g} days, Delta default'})",
        )
    return LogCleanupPlan(table, days, expired)


def _log_files(store: BronzeStore, uri: str) -> list[tuple[int, str, dt.datetime]]:
    out = []
    for f in list_files(store, uri):
        if not f.path.startswith(LOG_DIR + "/"):
            continue
        match = _LOG_FILE.search(f.path)
        if match and f.mtime is not None:
            out.append((int(match.group(1)), f.path, f.mtime))
    return sorted(out)
