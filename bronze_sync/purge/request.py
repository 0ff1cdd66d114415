"""What an operator asks when recording a source purge, and the checks it must pass."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from deltalake.exceptions import DeltaError

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.clock import date_start_utc
from bronze_sync.config.models import Config, TableConfig
from bronze_sync.errors import BronzeError, BronzeSyncError, ConfigError
from bronze_sync.metadata import MetadataStore
from bronze_sync.metadata.pipeline_config import read_all


class PurgeValidationError(BronzeSyncError):
    """A purge request names unknown tables or a bad date; nothing was written."""

    exit_code = 2


@dataclass(frozen=True)
class Approval:
    """Who approved an executed purge (purge.require_approval), with the dry run's token."""

    token: str
    approved_by: str


@dataclass(frozen=True)
class PurgeRequest:
    """Record that the source purged rows created before `purge_date` (None tables: all)."""

    purge_date: dt.date
    tables: tuple[str, ...] | None = None
    create_pre_purge_checkpoint: bool = True
    dry_run: bool = False
    force: bool = False
    notes: str | None = None
    approval: Approval | None = None

    @property
    def cutoff(self) -> dt.datetime:
        """Return the purge date as the UTC instant rows must have been created before."""
        return date_start_utc(self.purge_date)


@dataclass(frozen=True)
class PurgeTarget:
    """One table a purge is recorded for, with its state before the purge."""

    table: TableConfig
    previous_purge: dt.datetime | None
    version: int


def parse_purge_date(value: str | dt.date) -> dt.date:
    """Return a purge date from `YYYY-MM-DD` (or a date), else raise PurgeValidationError."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        if len(value.strip()) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise PurgeValidationError(f"purge_date: {value!r} is not a date YYYY-MM-DD") from None


def validate_request(
    config: Config, store: BronzeStore, meta: MetadataStore, request: PurgeRequest, now: dt.datetime
) -> list[PurgeTarget]:
    """Return the tables the purge applies to; raise one error listing every problem."""
    problems: list[str] = []
    today = now.astimezone(dt.UTC).date()
    if request.purge_date > today:
        problems.append(
            f"purge_date {request.purge_date} is in the future (today is {today}, UTC): "
            "record a purge after the source ran it"
        )
    tables = _select(config, request.tables, problems)
    states = read_all(meta)
    targets = []
    for table in tables:
        previous = (states.get(table.name) or {}).get("LastPurgeDate")
        target_problems = _check_table(store, table, previous, request)
        if not target_problems:
            try:
                delta = store.open(store.table_uri(table.name))
            except (BronzeError, DeltaError, OSError) as exc:
                target_problems.append(f"{table.name}: cannot open the bronze table: {exc}")
            else:
                if delta is not None:
                    targets.append(PurgeTarget(table, previous, delta.version()))
        problems.extend(target_problems)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise PurgeValidationError(f"cannot record the purge (nothing was written):\n{listed}")
    return targets


def _select(
    config: Config, names: tuple[str, ...] | None, problems: list[str]
) -> list[TableConfig]:
    if names is None:
        tables = config.enabled_tables()
        if not tables:
            problems.append("no enabled table is configured")
        return tables
    selected = []
    for name in names:
        try:
            selected.append(config.table(name))
        except ConfigError as exc:
            problems.append(str(exc))
    return selected


def _check_table(
    store: BronzeStore, table: TableConfig, previous: dt.datetime | None, request: PurgeRequest
) -> list[str]:
    problems = []
    if not table.created_column:
        problems.append(
            f"{table.name}: no created_column is configured, so no row can be shown to "
            "predate the purge (set tables[].created_column)"
        )
    if not table.track_deletes:
        problems.append(
            f"{table.name}: track_deletes is false, so bronze never flags vanished rows and "
            "a purge would change nothing"
        )
    if not store.exists(store.table_uri(table.name)):
        problems.append(
            f"{table.name}: no bronze table at {store.table_uri(table.name)} (sync it first)"
        )
    if previous is not None and request.cutoff < previous and not request.force:
        problems.append(
            f"{table.name}: purge_date {request.purge_date} is earlier than the recorded "
            f"LastPurgeDate {previous.date()}; moving it backwards needs force "
            "(CLI: --force, job: force: true)"
        )
    return problems
