"""Append to and read a history table; each append records which bronze versions it covers.

Coverage lives in the history table's own commit metadata (`bronze_sync.history_from` and
`bronze_sync.history_through`), so the rows and the claim that they are complete land in one
atomic commit: a crash leaves either both or neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, write_deltalake

from bronze_sync.bronze.commit import commit_fields, read_commit_info
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.errors import BronzeError
from bronze_sync.history.columns import (
    BRONZE_VERSION,
    CHANGED_AT,
    PARTITION_KEY,
    RUN_ID,
    history_schema,
    history_uri,
)
from bronze_sync.history.derive import VersionChanges
from bronze_sync.history.images import conform_image
from bronze_sync.history.writer import HistoryFiles, add_new_columns, history_table_for

FROM, THROUGH, REASON = "history_from", "history_through", "history_reason"
# "true" once nothing before `history_from` can still be recorded: the history starts at
# version 0, or a backfill found the earlier versions' files removed (VACUUM), or the
# history retention dropped them on purpose.
SETTLED = "history_settled"

COVERAGE_SCAN = 50  # history commits looked at for the newest coverage record (maintenance)


@dataclass(frozen=True)
class Coverage:
    """The bronze versions a history table holds completely: `first` through `through`."""

    first: int
    through: int
    settled: bool = True

    def describe(self) -> str:
        """Return the covered range as text."""
        return f"versions {self.first}..{self.through}"


def coverage_metadata(coverage: Coverage, reason: str) -> dict[str, str | int]:
    """Return the commit metadata that records `coverage` (and why it was written)."""
    return {
        f"bronze_sync.{FROM}": coverage.first,
        f"bronze_sync.{THROUGH}": coverage.through,
        f"bronze_sync.{SETTLED}": "true" if coverage.settled else "false",
        f"bronze_sync.{REASON}": reason,
    }


def open_history(store: BronzeStore, table: str) -> DeltaTable | None:
    """Return table `table`'s history Delta table, or None when it has none yet."""
    return store.open(history_uri(store, table))


def read_coverage(store: BronzeStore, table: str) -> Coverage | None:
    """Return which bronze versions the history of `table` covers (None: no history)."""
    delta = open_history(store, table)
    if delta is None:
        return None
    return coverage_of(delta, store.options())


def coverage_of(delta: DeltaTable, options: dict[str, str] | None = None) -> Coverage | None:
    """Return the newest coverage recorded at or below the version `delta` was loaded at."""
    found = coverage_commit(delta, options)
    return found[1] if found is not None else None


def coverage_commit(
    delta: DeltaTable, options: dict[str, str] | None = None
) -> tuple[int, Coverage] | None:
    """Return the version of the newest commit that records the coverage, and the coverage.

    Read from the commit files themselves, so a reader's coverage always matches the rows of
    its snapshot even while a sync appends (deltalake's history() would report the newest
    commits, see bronze.commit.read_commit_info).
    """
    for version in range(delta.version(), max(-1, delta.version() - COVERAGE_SCAN), -1):
        info = read_commit_info(delta.table_uri, options, version)
        if info is None:
            return _coverage_from_history(delta)  # log clean-up kept only a checkpoint
        found = _coverage(info)
        if found is not None:
            return version, found
    return _coverage_from_history(delta)


def _coverage(info: dict[str, Any]) -> Coverage | None:
    fields = commit_fields(info)
    if THROUGH not in fields:
        return None
    settled = str(fields.get(SETTLED, "true")).lower() == "true"
    return Coverage(int(fields[FROM]), int(fields[THROUGH]), settled)


def _coverage_from_history(delta: DeltaTable) -> tuple[int, Coverage] | None:
    """Return the newest coverage deltalake's history() lists (for cleaned-up logs)."""
    for info in delta.history():
        found = _coverage(info)
        if found is not None:
            return int(info["version"]), found
    return None


def append_versions(
    store: BronzeStore,
    table: str,
    keys: Sequence[str],
    versions: Sequence[VersionChanges],
    coverage: Coverage,
    reason: str,
    existing: DeltaTable | None = None,
) -> dict[int, int]:
    """Append every version's rows in ONE commit that records `coverage`; return row counts.

    `existing` is the history table as read when the coverage was decided: the commit lands
    only right after that version (another writer's append raises CommitConflictError), so
    two writers can never both record a version. None opens the table now.
    """
    if not versions:
        raise BronzeError("no bronze version to record in the history", table=table)
    schema = history_schema(versions[-1].bronze, keys, table)
    if existing is None:
        existing = open_history(store, table)
    if existing is not None:
        current = existing.to_pyarrow_dataset().schema
        if _widened(current, schema):
            _rewrite_wider(store, table, existing, schema)
            existing.update_incremental()
        schema = add_new_columns(existing, schema)
    counts = {v.version: 0 for v in versions}
    metadata = coverage_metadata(coverage, reason)
    if existing is None:
        existing = history_table_for(history_uri(store, table), store.options(), schema)
    files = HistoryFiles(existing, schema)
    try:
        files.write_all(_tables(versions, schema, counts))
    except BaseException:
        files.discard()
        raise
    files.commit(metadata, table)
    return counts


def _widened(current: pa.Schema, wanted: pa.Schema) -> bool:
    """Return True when bronze widened a column the history table holds narrower."""
    return any(
        f.name in wanted.names and wanted.field(f.name).type != f.type
        for f in current
        if f.name not in (BRONZE_VERSION, CHANGED_AT)
    )


def _rewrite_wider(store: BronzeStore, table: str, existing: DeltaTable, wanted: pa.Schema) -> None:
    """Rewrite the history in bronze's wider column types, keeping its coverage record."""
    current = existing.to_pyarrow_dataset().schema
    schema = pa.schema([wanted.field(f.name) if f.name in wanted.names else f for f in current])
    coverage = coverage_of(existing, store.options())
    metadata: dict[str, str | int] = {f"bronze_sync.{REASON}": "widen"}
    if coverage is not None:
        metadata = coverage_metadata(coverage, "widen")
    rewrite_history(store, table, existing, lambda rows: conform_image(rows, schema), metadata)


def rewrite_history(
    store: BronzeStore,
    table: str,
    existing: DeltaTable,
    transform: Callable[[pa.Table], pa.Table],
    metadata: dict[str, str | int],
    before_commit: Callable[[], None] | None = None,
) -> None:
    """Rewrite every history row through `transform` in one commit carrying `metadata`."""
    current = existing.to_pyarrow_dataset()
    schema = transform(current.schema.empty_table()).schema

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in current.to_batches():
            yield from conform_image(transform(pa.Table.from_batches([batch])), schema).to_batches()
        if before_commit is not None:
            # The writer pulls batches on deltalake's own runtime, where another Delta
            # commit cannot start one: run it on a thread of its own.
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(before_commit).result()

    write_deltalake(
        history_uri(store, table),
        pa.RecordBatchReader.from_batches(schema, batches()),
        mode="overwrite",
        schema_mode="overwrite",
        storage_options=store.options(),
        commit_properties=CommitProperties(custom_metadata=metadata, max_commit_retries=0),
    )


def _tables(
    versions: Iterable[VersionChanges], schema: pa.Schema, counts: dict[int, int]
) -> Iterator[pa.Table]:
    for change in versions:
        for part in change.parts:
            if not part.num_rows:
                continue
            counts[change.version] += part.num_rows
            yield with_version(part, change, schema)


def with_version(rows: pa.Table, change: VersionChanges, schema: pa.Schema) -> pa.Table:
    """Return history rows with their per-version columns, in the history table's schema."""
    n = rows.num_rows
    constants = {
        BRONZE_VERSION: pa.repeat(pa.scalar(change.version, pa.int64()), n),
        RUN_ID: pa.repeat(pa.scalar(change.run_id, pa.string()), n),
        PARTITION_KEY: pa.repeat(pa.scalar(change.partition_key, pa.string()), n),
        CHANGED_AT: pa.repeat(pa.scalar(change.changed_at, schema.field(CHANGED_AT).type), n),
    }
    for name, values in constants.items():
        rows = rows.append_column(name, values)
    return conform_image(rows, schema)


def version_counts(delta: DeltaTable) -> dict[int, int]:
    """Return how many history rows each bronze version has."""
    column = delta.to_pyarrow_dataset().to_table(columns=[BRONZE_VERSION]).column(BRONZE_VERSION)
    counted = pc.value_counts(column)
    return {int(v["values"]): int(v["counts"]) for v in counted.to_pylist()}


def forget_versions_after(store: BronzeStore, table: str, latest: int) -> int:
    """Drop the history of bronze versions above `latest` (the log lost them); return rows.

    Later commits reuse those version numbers, so their old history rows would be mistaken
    for the new commits'. One DELETE commit also moves the coverage back to `latest`.
    """
    delta = open_history(store, table)
    coverage = coverage_of(delta, store.options()) if delta is not None else None
    if delta is None or coverage is None or coverage.through <= latest:
        return 0
    kept = Coverage(min(coverage.first, latest + 1), latest, coverage.settled)
    metrics = delta.delete(
        f'"{BRONZE_VERSION}" > {int(latest)}',
        commit_properties=CommitProperties(
            custom_metadata=coverage_metadata(kept, "lost-versions")
        ),
    )
    return int(metrics.get("num_deleted_rows", 0))


def settle_coverage(store: BronzeStore, table: str, coverage: Coverage) -> None:
    """Record that nothing before `coverage.first` can still be recorded (an empty commit)."""
    delta = open_history(store, table)
    if delta is None:
        raise BronzeError("no history table to settle", table=table)
    settled = Coverage(coverage.first, coverage.through, settled=True)
    metadata = coverage_metadata(settled, "backfill")
    empty = delta.to_pyarrow_dataset().schema.empty_table()
    write_deltalake(
        delta,
        empty,
        mode="append",
        commit_properties=CommitProperties(custom_metadata=metadata, max_commit_retries=0),
    )
