"""Referential integrity around a rollback: active child rows whose parent row is not active.

A table's `references` setting names its foreign keys (`accountid: account`). Rolling back a
parent without its children (or the other way round) can leave children pointing at rows the
restored version does not hold: orphans. The dry run predicts them, the execution counts
them in the tables as restored, and both report them per reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.bronze.tracking import IS_DELETED, IS_PURGED
from bronze_sync.config.models import Config
from bronze_sync.rows.values import frame

SAMPLES = 5


@dataclass(frozen=True)
class Reference:
    """One foreign key: `child.column` holds keys of `parent.parent_column`."""

    child: str
    column: str
    parent: str
    parent_column: str

    def describe(self) -> str:
        """Return `child.column -> parent.parent_column`."""
        return f"{self.child}.{self.column} -> {self.parent}.{self.parent_column}"


@dataclass(frozen=True)
class OrphanCheck:
    """Active child rows whose reference has no active parent row, at given versions."""

    reference: Reference
    child_version: int
    parent_version: int
    orphans: int
    samples: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """Return True when every active child row finds its parent."""
        return self.orphans == 0

    def describe(self) -> str:
        """Return the finding in words (sample values of the foreign key, never other data)."""
        ref = self.reference
        where = f"{ref.describe()} (v{self.child_version} -> v{self.parent_version})"
        if self.passed:
            return f"{where}: every active row has its parent"
        return (
            f"{where}: {self.orphans:,} active row(s) reference a missing or inactive parent, "
            f"e.g. {', '.join(self.samples)}"
        )


def references(config: Config, tables: set[str]) -> list[Reference]:
    """Return the configured references whose child or parent is one of `tables`."""
    keys = {t.name: t.primary_key for t in config.tables}
    found = []
    for table in config.tables:
        for column, target in table.references.items():
            parent, _, key = target.partition(".")
            if table.name in tables or parent in tables:
                found.append(Reference(table.name, column, parent, key or keys[parent][0]))
    return found


def orphan_checks(
    store: BronzeStore, config: Config, versions: Mapping[str, int]
) -> list[OrphanCheck]:
    """Check every reference touching `versions`' tables; other tables at their latest."""
    checks = []
    for ref in references(config, set(versions)):
        child_version = _version(store, ref.child, versions)
        parent_version = _version(store, ref.parent, versions)
        if child_version is None or parent_version is None:
            continue  # a table not synced yet has nothing to check
        children = _active(store, ref.child, child_version, ref.column)
        parents = _active(store, ref.parent, parent_version, ref.parent_column)
        values = children.get_column(ref.column).drop_nulls()
        missing = values.filter(~values.is_in(parents.get_column(ref.parent_column).implode()))
        samples = tuple(str(v) for v in missing.unique().sort().head(SAMPLES).to_list())
        checks.append(OrphanCheck(ref, child_version, parent_version, missing.len(), samples))
    return checks


def _version(store: BronzeStore, table: str, versions: Mapping[str, int]) -> int | None:
    if table in versions:
        return versions[table]
    delta = store.open(store.table_uri(table))
    return None if delta is None else delta.version()


def _active(store: BronzeStore, table: str, version: int, column: str) -> pl.DataFrame:
    """Return `column` of the active rows of one table version."""
    delta = store.open(store.table_uri(table), version=version)
    if delta is None:
        return pl.DataFrame({column: []})
    dataset = delta.to_pyarrow_dataset()
    flags = [c for c in (IS_DELETED, IS_PURGED) if c in dataset.schema.names]
    rows = frame(dataset.to_table(columns=[column, *flags]))
    for flag in flags:
        rows = rows.filter(~pl.col(flag).fill_null(False))
    return rows.select(pl.col(column).cast(pl.Utf8))  # keys compare as text


def predicted_orphans(
    store: BronzeStore, config: Config, now: Mapping[str, int], then: Mapping[str, int]
) -> dict[str, list[str]]:
    """Return, per table in scope, warnings for references the rollback would leave orphaned.

    Compares the orphans at the checkpoint versions (`then`; tables out of scope as they
    are) with the orphans today (`now`): only new ones are the rollback's doing.
    """
    before = {c.reference: c.orphans for c in orphan_checks(store, config, now)}
    warnings: dict[str, list[str]] = {}
    for check in orphan_checks(store, config, then):
        ref = check.reference
        if check.orphans > before.get(ref, 0):
            owner = ref.child if ref.child in then else ref.parent
            warnings.setdefault(owner, []).append(
                f"after the rollback {check.orphans:,} active {ref.child} row(s) would reference "
                f"a missing or inactive {ref.parent} row ({ref.describe()}; now "
                f"{before.get(ref, 0):,}), e.g. {', '.join(check.samples)}"
            )
    return warnings
