"""The change feed: every history row after bronze version N, for downstream (silver) jobs.

Plain Python over deltalake and pyarrow, so a silver asset in another Dagster project (or
any script) reads it with `read_changes(bronze_path, table, since_version=N)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.errors import HistoryError, VersionRangeError
from bronze_sync.history.columns import BRONZE_VERSION, history_uri
from bronze_sync.history.store import Coverage, coverage_of

BATCH_ROWS = 65_536


class NoHistoryError(HistoryError):
    """The table has no history table (yet)."""


@dataclass(frozen=True)
class VersionRange:
    """The versions a change feed may start after: `oldest_since` through `current`."""

    table: str
    first: int  # the oldest bronze version whose changes the history holds
    current: int  # the newest one

    @property
    def oldest_since(self) -> int:
        """Return the smallest valid since-version (-1: from the table's first version)."""
        return self.first - 1

    def describe(self) -> str:
        """Return the range as text for error messages."""
        return f"since-version {self.oldest_since}..{self.current}"


def _store(bronze: str | BronzeStore, storage_options: dict[str, str] | None) -> BronzeStore:
    if isinstance(bronze, BronzeStore):
        return bronze
    return BronzeStore(root=bronze.rstrip("/"), storage_options=dict(storage_options or {}))


def version_range(
    bronze: str | BronzeStore, table: str, storage_options: dict[str, str] | None = None
) -> VersionRange:
    """Return the bronze versions table `table`'s change feed can serve."""
    store = _store(bronze, storage_options)
    delta = store.open(history_uri(store, table))
    coverage = coverage_of(delta, store.options()) if delta is not None else None
    if coverage is None:
        raise NoHistoryError(
            f"table {table} has no history yet: it is written by the next sync, or by "
            "`bronze-sync history --backfill`"
        )
    return _range(table, coverage)


def _range(table: str, coverage: Coverage) -> VersionRange:
    return VersionRange(table, coverage.first, coverage.through)


def read_changes(
    bronze: str | BronzeStore,
    table: str,
    since_version: int,
    until_version: int | None = None,
    storage_options: dict[str, str] | None = None,
    columns: list[str] | None = None,
) -> pa.RecordBatchReader:
    """Return the history rows of versions after `since_version` up to `until_version`.

    Batches stream from the history table (bounded memory); rows are in no particular order
    (sort by BronzeVersion where order matters). The reader's schema metadata names the
    range served (`bronze_sync.since_version`, `bronze_sync.until_version`): keep the
    until-version as the next call's since-version.
    """
    store = _store(bronze, storage_options)
    delta = store.open(history_uri(store, table))
    coverage = coverage_of(delta, store.options()) if delta is not None else None
    if delta is None or coverage is None:
        raise NoHistoryError(
            f"table {table} has no history yet: it is written by the next sync, or by "
            "`bronze-sync history --backfill`"
        )
    available = _range(table, coverage)
    until = available.current if until_version is None else until_version
    _check(available, since_version, until)
    dataset = delta.to_pyarrow_dataset()
    wanted = (pc.field(BRONZE_VERSION) > since_version) & (pc.field(BRONZE_VERSION) <= until)
    scanner = dataset.scanner(columns=columns, filter=wanted, batch_size=BATCH_ROWS)
    schema = scanner.projected_schema.with_metadata(
        {"bronze_sync.since_version": str(since_version), "bronze_sync.until_version": str(until)}
    )
    batches = (b for b in scanner.to_batches() if b.num_rows)
    return pa.RecordBatchReader.from_batches(
        schema, (pa.RecordBatch.from_arrays(b.columns, schema=schema) for b in batches)
    )


def _check(available: VersionRange, since: int, until: int) -> None:
    if since > available.current:
        raise VersionRangeError(
            f"since-version {since} is above the current version {available.current} of "
            f"{available.table}; available: {available.describe()}"
        )
    if since < available.oldest_since:
        raise VersionRangeError(
            f"since-version {since} is below the oldest version the history of "
            f"{available.table} holds; available: {available.describe()}"
        )
    if until < since or until > available.current:
        raise VersionRangeError(
            f"until-version {until} must lie between since-version {since} and the current "
            f"version {available.current} of {available.table}"
        )
