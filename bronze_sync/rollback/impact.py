"""The impact analysis of a rollback: what each table loses, regains and changes, and risk."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pyarrow as pa

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import Checkpoint
from bronze_sync.config.models import Config, RollbackSettings
from bronze_sync.rollback.compare import Comparison, compare_versions
from bronze_sync.rollback.integrity import predicted_orphans
from bronze_sync.rollback.request import RollbackTarget, RollbackValidationError


class Risk(StrEnum):
    """How much a rollback changes a table."""

    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"


# Rollback throughput measured by `bronze-sync bench` (README, Performance): a 10M-row
# table rolled back in 34 s on 2 cores, validation, snapshots and row history included.
ROWS_PER_SECOND = 290_000
FIXED_SECONDS = 2.0  # leases, metadata rows, the post-rollback checkpoint


@dataclass(frozen=True)
class Storage:
    """A table's data files in bytes: active now, active at the checkpoint, leaving."""

    now: int
    then: int
    leaving: int  # active now, not at the checkpoint: stays on disk until VACUUM

    def describe(self) -> str:
        """Return the storage impact in words."""
        return (
            f"active data {_size(self.now)} now, {_size(self.then)} at the checkpoint; "
            f"{_size(self.leaving)} leave the active set and stay on disk until VACUUM "
            "(the restore writes no data file)"
        )


@dataclass(frozen=True)
class TableImpact:
    """One table's rollback: the comparison of its current and checkpoint versions."""

    target: RollbackTarget
    comparison: Comparison
    risk: Risk
    warnings: tuple[str, ...] = ()
    storage: Storage | None = None

    @property
    def table(self) -> str:
        """Return the table name."""
        return self.target.table


@dataclass(frozen=True)
class ImpactReport:
    """The impact of rolling back to `checkpoint` at `analysed`, for each table in scope."""

    checkpoint: Checkpoint
    analysed: dt.datetime
    tables: list[TableImpact] = field(default_factory=list)

    @property
    def risk(self) -> Risk:
        """Return the highest risk of any table."""
        for level in (Risk.HIGH, Risk.MEDIUM):
            if any(t.risk == level for t in self.tables):
                return level
        return Risk.LOW

    def total(self, name: str) -> int:
        """Return the sum of comparison figure `name` over every table."""
        return sum(int(getattr(t.comparison, name)) for t in self.tables)

    @property
    def estimated_seconds(self) -> float:
        """Return how long executing the rollback should take (from the measured throughput)."""
        rows = sum(
            max(t.comparison.counts_from["total"], t.comparison.counts_to["total"])
            for t in self.tables
        )
        return FIXED_SECONDS * len(self.tables) + rows / ROWS_PER_SECOND

    def cost_lines(self) -> list[str]:
        """Return the estimated duration and each table's storage impact."""
        lines = [
            f"Estimated duration: about {self.estimated_seconds:,.0f} s (measured "
            f"{ROWS_PER_SECOND:,} rows/s on 2 cores; machines differ up to 2x)"
        ]
        lines += [f"{t.table}: {t.storage.describe()}" for t in self.tables if t.storage]
        return lines

    @property
    def span(self) -> dt.timedelta:
        """Return how far back in time the rollback goes."""
        return self.analysed - self.checkpoint.created

    def rows(self) -> list[list[Any]]:
        """Return one display row per table (see COLUMNS)."""
        return [_row(t) for t in self.tables]

    def to_markdown(self) -> str:
        """Return the report as Markdown (Dagster metadata, alert bodies)."""
        lines = [
            f"**Rollback to {self.checkpoint.name}** ({self.checkpoint.type.value}, created "
            f"{self.checkpoint.created:%Y-%m-%d %H:%M} UTC, {_span(self.span)} ago): "
            f"{len(self.tables)} table(s), overall risk **{self.risk.value}**.",
            "",
            "| " + " | ".join(COLUMNS) + " |",
            "|" + "---|" * len(COLUMNS),
            *("| " + " | ".join(_cell(v) for v in row) + " |" for row in self.rows()),
            "",
            f"Totals: {self.total('removed'):,} row(s) disappear, "
            f"{self.total('reappearing'):,} reappear, {self.total('value_changes'):,} change "
            "values.",
            *(f"{line}." for line in self.cost_lines()),
        ]
        for impact in self.tables:
            lines += [f"- `{impact.table}`: {w}" for w in impact.warnings]
            lines += [f"- `{impact.table}` {k}: {', '.join(v)}" for k, v in _samples(impact)]
        return "\n".join(lines)

    def to_text(self) -> str:
        """Return the report as plain text (audit notes, logs)."""
        parts = [
            f"rollback to {self.checkpoint.name}: {len(self.tables)} table(s), risk "
            f"{self.risk.value}, span {_span(self.span)}"
        ]
        parts += [table_text(t) for t in self.tables]
        parts += self.cost_lines()
        return "\n".join(parts)


COLUMNS = [
    "table",
    "version now -> then",
    "rows now",
    "rows then",
    "disappear",
    "reappear",
    "state changes",
    "value changes",
    "risk",
]


def analyse(
    config: Config,
    store: BronzeStore,
    checkpoint: Checkpoint,
    targets: list[RollbackTarget],
    now: dt.datetime,
) -> ImpactReport:
    """Return the impact report of rolling `targets` back to `checkpoint`."""
    scope = {t.table for t in targets}
    orphans = predicted_orphans(
        store,
        config,
        {t.table: t.current_version for t in targets},
        {t.table: t.checkpoint_version for t in targets},
    )
    impacts = []
    for target in targets:
        keys = _key_columns(config, target.table)
        comparison = compare_versions(
            store, target.table, keys, target.current_version, target.checkpoint_version
        )
        warnings = related_warnings(config, target.table, scope, checkpoint)
        warnings += tuple(orphans.get(target.table, ()))
        risk = risk_of(comparison, config.rollback)
        storage = storage_of(store, target)
        impacts.append(TableImpact(target, comparison, risk, warnings, storage))
    return ImpactReport(checkpoint, now, impacts)


def storage_of(store: BronzeStore, target: RollbackTarget) -> Storage:
    """Return the bytes of the table's active data files now and at the checkpoint."""
    now = _file_bytes(store, target.table, target.current_version)
    then = _file_bytes(store, target.table, target.checkpoint_version)
    leaving = sum(size for path, size in now.items() if path not in then)
    return Storage(sum(now.values()), sum(then.values()), leaving)


def _file_bytes(store: BronzeStore, table: str, version: int) -> dict[str, int]:
    delta = store.open(store.table_uri(table), version)
    if delta is None:
        return {}
    actions = pa.table(delta.get_add_actions(flatten=True))
    paths = actions.column("path").to_pylist()
    return dict(zip(paths, actions.column("size_bytes").to_pylist(), strict=True))


def _size(size: int) -> str:
    scaled, unit = float(size), "B"
    for larger in ("KB", "MB", "GB"):
        if scaled < 1024:
            break
        scaled, unit = scaled / 1024, larger
    return f"{size:,} B" if unit == "B" else f"{scaled:,.1f} {unit}"


def risk_of(comparison: Comparison, settings: RollbackSettings) -> Risk:
    """Return the risk level of a comparison under the configured thresholds."""
    changed = comparison.changed_rows
    base = max(comparison.counts_from["total"], 1)
    if changed >= settings.risk_high_rows or changed / base >= settings.risk_high_fraction:
        return Risk.HIGH
    if changed and changed / base >= settings.risk_medium_fraction:
        return Risk.MEDIUM
    return Risk.LOW


def related_warnings(
    config: Config, table: str, scope: set[str], checkpoint: Checkpoint
) -> tuple[str, ...]:
    """Return warnings for related tables (config `related_tables`) left out of the rollback."""
    names = {t.name: t for t in config.tables}
    related = set(names[table].related_tables) if table in names else set()
    related |= {n for n, t in names.items() if table in t.related_tables}
    out = []
    for other in sorted(related - scope):
        pinned = other in checkpoint.table_versions
        hint = "add it to the scope" if pinned else "the checkpoint does not pin it"
        out.append(f"related table {other} is not rolled back ({hint}); they may disagree")
    return tuple(out)


def table_text(impact: TableImpact) -> str:
    """Return one table's impact as one line."""
    c = impact.comparison
    moves = ", ".join(f"{k} {v:,}" for k, v in c.transitions.items()) or "none"
    return (
        f"{impact.table}: v{c.from_version} -> v{c.to_version}; rows {c.counts_from['total']:,} "
        f"-> {c.counts_to['total']:,}; active {c.counts_from['active']:,} -> "
        f"{c.counts_to['active']:,}; disappear {c.removed:,}; reappear {c.reappearing:,}; "
        f"state changes {moves}; value changes {c.value_changes:,}; risk {impact.risk.value}"
        + "".join(f"; {w}" for w in impact.warnings)
    )


def _key_columns(config: Config, table: str) -> list[str]:
    for configured in config.tables:
        if configured.name == table:
            return list(configured.primary_key)
    raise RollbackValidationError(
        f"{table}: pinned by the checkpoint but no longer configured, so its key is unknown"
    )


def _row(impact: TableImpact) -> list[Any]:
    c = impact.comparison
    return [
        impact.table,
        f"v{c.from_version} -> v{c.to_version}",
        c.counts_from["total"],
        c.counts_to["total"],
        c.removed,
        c.reappearing,
        sum(c.transitions.values()),
        c.value_changes,
        impact.risk.value,
    ]


def _samples(impact: TableImpact) -> list[tuple[str, list[str]]]:
    labels = {"removed": "disappear", "reappearing": "reappear", "value_changes": "values change"}
    return [(labels[k], v) for k, v in impact.comparison.samples.items() if k in labels]


def _span(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def _cell(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)
