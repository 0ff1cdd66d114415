"""Copy-on-write commit: rewrite only the data files that hold changed rows, in ONE commit.

A delta-rs MERGE joins the whole target table on every sync. Here the diff already knows,
per changed key, which data file holds it, so each affected file is read once, its changed
rows are replaced (only when their values really differ) or flagged in place, and the
rewritten files plus a file of inserts are committed with their removals as one transaction.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, RemoveAction

from bronze_sync.bronze.data_files import DataFiles, fragment_partition
from bronze_sync.bronze.file_stats import FileStats
from bronze_sync.bronze.rewrite_rows import (
    FRAGMENT,
    OP,
    PURGE,
    ROW,
    Tally,
    apply_edits,
    clear_latest,
    conform,
    fill,
    in_rows,
    upgrade,
)
from bronze_sync.errors import BronzeError, CommitConflictError
from bronze_sync.rows.keys import positions
from bronze_sync.rows.keyset import KeyIndex

__all__ = ["FRAGMENT", "OP", "PURGE", "ROW", "RewriteResult", "RowEdits", "TableChange"]

# Rows read, edited and written as one row group at a time: bounds a rewrite's memory per file
# (a 1M-row group of the 12-column benchmark table took ~350 MB to decode).
BATCH_ROWS = 262_144


@dataclass(frozen=True)
class RowEdits:
    """The row-level changes of one sync, located by the data file (fragment) holding them.

    `upserts`: full rows (bronze columns) for keys bronze already holds, plus `__op`
    (UPDATE or UNDELETE), `__fragment` and optionally `__row` (the row's position in that
    file); an UPDATE is only written if a value differs.
    `flags`: key columns plus `__purge`, `__fragment` (and optionally `__row`) for active
    rows that vanished.
    `inserts`: full rows for keys bronze does not hold yet.
    `unlatest` (scd2 tables): key columns plus `__fragment` and `__row` of versions whose
    `latest_column` a newer version clears.
    """

    upserts: pa.Table
    flags: pa.Table
    inserts: pa.Table
    unlatest: pa.Table | None = None
    latest_column: str | None = None

    @classmethod
    def none(cls) -> RowEdits:
        """Return edits that change no row (a rewrite for a schema change alone)."""
        empty = pa.table({FRAGMENT: pa.array([], pa.int32())})
        return cls(upserts=empty, flags=empty, inserts=empty)


@dataclass
class RewriteResult:
    """What a rewrite committed."""

    version: int
    committed: bool
    updated: int = 0
    undeleted: int = 0
    unchanged: int = 0
    filled: int = 0
    files_rewritten: int = 0
    files_added: int = 0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TableChange:
    """A change every data file takes in this commit: a new schema and source-filled columns.

    `fill` holds the key columns plus `columns` for every current source row; bronze rows
    whose key it holds get those values. The commit then replaces every file of the table.
    """

    schema: pa.Schema
    fill: pa.Table | None = None
    columns: tuple[str, ...] = ()


@dataclass
class _FileOutcome:
    remove: RemoveAction | None = None
    add: AddAction | None = None
    tally: Tally = field(default_factory=Tally)


def rewrite_commit(
    delta: DeltaTable,
    edits: RowEdits,
    key_columns: Sequence[str],
    now: dt.datetime,
    metadata: dict[str, Any],
    workers: int | None = None,
    *,
    token: str = "",
    change: TableChange | None = None,
    before_commit: Callable[[], None] | None = None,
) -> RewriteResult:
    """Apply `edits` (and `change`) by rewriting data files and adding inserts, in one commit.

    The commit lands only as the version right after the one `delta` is at: if any other
    writer committed since, nothing lands and CommitConflictError is raised (no blind
    appends). Files this call wrote are removed again whenever it does not commit.
    """
    base = delta.version()
    files = DataFiles(delta.to_pyarrow_dataset(), token, delta.metadata().partition_columns)
    rewriter = _FileRewriter(files, edits, key_columns, now, change, _file_sizes(delta))
    try:
        outcomes = rewriter.run(workers)
        actions: list[AddAction | RemoveAction] = []
        for outcome in outcomes:
            actions += [a for a in (outcome.remove, outcome.add) if a is not None]
        if edits.inserts.num_rows:
            actions += files.write_all(conform(edits.inserts, rewriter.schema))
        tally = Tally()
        for outcome in outcomes:
            tally.add(outcome.tally)
        result = RewriteResult(
            version=base,
            committed=bool(actions),
            updated=tally.updated,
            undeleted=tally.undeleted,
            unchanged=tally.unchanged,
            filled=tally.filled,
            files_rewritten=sum(1 for o in outcomes if o.add is not None),
            files_added=sum(1 for a in actions if isinstance(a, AddAction)),
        )
        if not actions:
            return result
        if before_commit is not None:
            before_commit()
        figures = {"updated": tally.updated, "undeleted": tally.undeleted}
        figures |= {"unchanged": tally.unchanged, "filled": tally.filled}
        _commit(delta, actions, change, files.partition_columns, {**metadata, **figures})
    except BaseException:
        files.discard()
        raise
    delta.update_incremental()
    result.version = base + 1
    return result


def _commit(
    delta: DeltaTable,
    actions: list[AddAction | RemoveAction],
    change: TableChange | None,
    partition_columns: list[str],
    metadata: dict[str, Any],
) -> None:
    """Commit `actions` as the next version exactly (max_commit_retries=0)."""
    try:
        delta.create_write_transaction(
            actions,
            # A table change replaces every file: overwrite derives their removals itself and
            # is the only mode that records a new schema.
            mode="overwrite" if change is not None else "append",
            schema=change.schema if change is not None else delta.schema(),
            partition_by=partition_columns or None,
            commit_properties=CommitProperties(
                custom_metadata={f"bronze_sync.{k}": v for k, v in metadata.items()},
                max_commit_retries=0,
            ),
        )
    except CommitFailedError as exc:
        raise CommitConflictError(
            f"another writer committed to {delta.table_uri} after version {delta.version()} was "
            f"read; nothing was committed ({exc})"
        ) from None


class _FileRewriter:
    """Rewrite the data files that edits touch (every file, for a table change)."""

    def __init__(
        self,
        files: DataFiles,
        edits: RowEdits,
        keys: Sequence[str],
        now: dt.datetime,
        change: TableChange | None,
        sizes: dict[str, int],
    ) -> None:
        self.files, self.edits, self.keys, self.now, self.change = files, edits, keys, now, change
        self.dataset = files.dataset
        self.schema = change.schema if change is not None else self.dataset.schema
        self.fill_index = None
        if change is not None and change.fill is not None and change.fill.num_rows:
            self.fill_index = KeyIndex(change.fill, keys)
        self.sizes = sizes
        self._unlatest = edits.unlatest if edits.unlatest is not None else RowEdits.none().flags

    def run(self, workers: int | None) -> list[_FileOutcome]:
        """Rewrite every affected file in parallel; return one outcome per file."""
        fragments = list(self.dataset.get_fragments())
        if self.change is not None:
            affected = list(range(len(fragments)))
        else:
            edited = [self.edits.upserts, self.edits.flags, self._unlatest]
            affected = sorted(
                {i for table in edited for i in pc.unique(table.column(FRAGMENT)).to_pylist()}
            )
        # Each worker holds one batch twice (read and rewritten): one per core, no more.
        with ThreadPoolExecutor(max_workers=workers or min(4, (os.cpu_count() or 2))) as pool:
            return list(pool.map(lambda i: self.rewrite(i, fragments[i]), affected))

    def rewrite(self, index: int, fragment: pds.ParquetFileFragment) -> _FileOutcome:
        """Write the file's new version a batch at a time; no add action if nothing changed."""
        edits = [
            _with_rows(_for_fragment(table, index), fragment, self.keys)
            for table in (self.edits.upserts, self.edits.flags, self._unlatest)
        ]
        outcome, stats, changed, offset = _FileOutcome(), FileStats(), self.change is not None, 0
        partition = fragment_partition(fragment, self.files.partition_columns)
        path = self.files.new_path(fragment.path.rpartition("/")[0] + "/" if partition else "")
        stored = self.files.stored(self.schema.empty_table()).schema
        with (
            self.files.filesystem.open_output_stream(path) as sink,
            pq.ParquetWriter(
                sink, stored, compression="snappy", use_dictionary=self._dictionary()
            ) as writer,
        ):
            # ParquetFile streams pages (the dataset scanner decoded whole row groups: 2x memory).
            source = pq.ParquetFile(
                self.files.filesystem.open_input_file(fragment.path), pre_buffer=False
            )
            for batch in source.iter_batches(batch_size=BATCH_ROWS, use_threads=False):
                read = _with_partition(pa.Table.from_batches([batch]), partition)
                old = self._prepare(read, outcome.tally)
                upserts, flags, unlatest = (in_rows(t, offset, old.num_rows) for t in edits)
                offset += old.num_rows
                new = self._edit(old, upserts, flags, unlatest, outcome.tally)
                changed |= new is not None
                written = self.files.stored(old if new is None else new)
                writer.write_table(written)
                stats.add(written)
        if not changed:  # every candidate held the values bronze has: keep the old file
            self.files.drop(path)
            return outcome
        outcome.add = self.files.add_action(path, stats.json(), partition)
        if self.change is None:
            outcome.remove = RemoveAction(
                path=fragment.path,
                data_change=True,
                deletion_timestamp=int(time.time() * 1000),
                size=self.sizes.get(fragment.path),
            )
        return outcome

    def _edit(
        self, old: pa.Table, upserts: pa.Table, flags: pa.Table, unlatest: pa.Table, tally: Tally
    ) -> pa.Table | None:
        """Return one batch's new rows (None when nothing in it changes)."""
        new = None
        if unlatest.num_rows and self.edits.latest_column:
            old, cleared = clear_latest(
                old, unlatest, self.keys, self.edits.latest_column, self.now
            )
            tally.updated += cleared
            new = old if cleared else None
        if upserts.num_rows or flags.num_rows:
            edited, counts = apply_edits(old, upserts, flags, self.keys, self.now)
            tally.add(counts)
            new = edited if edited is not None else new
        return new

    def _prepare(self, batch: pa.Table, tally: Tally) -> pa.Table:
        """Return a batch as read, in the table's (possibly new) schema, filled from the source."""
        old = conform(batch, self.dataset.schema)
        if self.change is None:
            return old
        old = upgrade(old, self.change.schema, self.now)
        change = self.change
        if self.fill_index is not None and change.fill is not None:
            old, filled = fill(old, self.fill_index, change.fill, change.columns, self.now)
            tally.filled += filled
        return old

    def _dictionary(self) -> list[str]:
        """Return the columns worth dictionary-encoding: all but the (unique) key columns."""
        # A unique column never fits a dictionary; trying first costs ~15 % of the write.
        return [name for name in self.schema.names if name not in self.keys]


def _with_rows(edits: pa.Table, fragment: pds.ParquetFileFragment, keys: Sequence[str]) -> pa.Table:
    """Return `edits` with their row numbers in the file (looked up by key when missing)."""
    if ROW in edits.column_names:
        return edits
    if edits.num_rows == 0:
        return edits.append_column(ROW, pa.array([], pa.int64()))
    where = positions(edits, fragment.to_table(columns=list(keys)), keys)
    if where.null_count:
        raise BronzeError(f"{where.null_count} edited key(s) are not in data file {fragment.path}")
    return edits.append_column(ROW, where)


def _with_partition(rows: pa.Table, partition: dict[str, Any]) -> pa.Table:
    """Return a file's rows with its partition columns (files leave them out) filled in."""
    for name, value in partition.items():
        if name not in rows.column_names:
            rows = rows.append_column(name, pa.array([value] * rows.num_rows))
    return rows


def _for_fragment(table: pa.Table, index: int) -> pa.Table:
    return table.filter(pc.equal(table.column(FRAGMENT), index))


def _file_sizes(delta: DeltaTable) -> dict[str, int]:
    actions = pa.table(delta.get_add_actions(flatten=True))
    return dict(
        zip(
            actions.column("path").to_pylist(),
            actions.column("size_bytes").to_pylist(),
            strict=True,
        )
    )
