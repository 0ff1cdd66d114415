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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, RemoveAction

from bronze_sync.bronze.data_files import (
    DataFiles,
    file_sizes,
    fragment_partition,
    with_partition,
)
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
from bronze_sync.bronze.row_metadata import RowStamp
from bronze_sync.errors import BronzeError, CommitConflictError
from bronze_sync.rows.keys import positions
from bronze_sync.rows.keyset import KeyIndex

__all__ = ["FRAGMENT", "OP", "PURGE", "ROW", "RewriteResult", "RowEdits", "TableChange"]

# Receives the images of changed rows as the rewrite finds them: (before, after) aligned row
# by row, before None for inserted rows. Called from worker threads.
ChangeSink = Callable[[pa.Table | None, pa.Table], None]

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
    # Applied to every stored row, deleted and purged ones too, before the new schema (a PII
    # policy migration); such a rewrite changes no row's sync state.
    transform: Callable[[pa.Table], pa.Table] | None = None


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
    changes: ChangeSink | None = None,
    stamp: RowStamp | None = None,
) -> RewriteResult:
    """Apply `edits` (and `change`) by rewriting data files and adding inserts, in one commit.

    The commit lands only as the version right after the one `delta` is at: if any other
    writer committed since, nothing lands and CommitConflictError is raised (no blind
    appends). Files this call wrote are removed again whenever it does not commit.
    """
    base = delta.version()
    files = DataFiles(delta.to_pyarrow_dataset(), token, delta.metadata().partition_columns)
    rewriter = _FileRewriter(
        files, edits, key_columns, now, change, file_sizes(delta), changes, stamp
    )
    try:
        outcomes = rewriter.run(workers)
        actions: list[AddAction | RemoveAction] = []
        for outcome in outcomes:
            actions += [a for a in (outcome.remove, outcome.add) if a is not None]
        if edits.inserts.num_rows:
            inserts = conform(edits.inserts, rewriter.schema)
            if stamp is not None:
                inserts = stamp.inserted(inserts)
            actions += files.write_all(inserts)
            if changes is not None:
                changes(None, inserts)
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
        figures["changed_rows"] = tally.changed + edits.inserts.num_rows
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
        changes: ChangeSink | None = None,
        stamp: RowStamp | None = None,
    ) -> None:
        self.files, self.edits, self.keys, self.now, self.change = files, edits, keys, now, change
        self.changes, self.stamp = changes, stamp
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
                read = with_partition(pa.Table.from_batches([batch]), partition)
                original = conform(read, self.dataset.schema)
                old, filled = self._prepare(original, outcome.tally)
                old, backfilled = self._backfill(old)
                upserts, flags, unlatest = (in_rows(t, offset, old.num_rows) for t in edits)
                offset += old.num_rows
                new, origin, touched, tally = self._edit(old, upserts, flags, unlatest, filled)
                if self.stamp is not None:
                    new = None if new is None else self.stamp.changed(new, touched)
                    touched = touched | backfilled[origin]
                    tally.changed = int(touched.sum())
                outcome.tally.add(tally)
                changed |= new is not None
                self._report(original, old if new is None else new, origin, touched)
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
        self,
        old: pa.Table,
        upserts: pa.Table,
        flags: pa.Table,
        unlatest: pa.Table,
        changed: np.ndarray,
    ) -> tuple[pa.Table | None, np.ndarray, np.ndarray, Tally]:
        """Return one batch's new rows (None when nothing in it changes).

        Also return per new row the `old` row it came from, whether its image changed, and
        the batch's tallies.
        """
        tally = Tally()
        new = old if changed.any() else None
        origin = np.arange(old.num_rows)
        if unlatest.num_rows and self.edits.latest_column:
            old, cleared = clear_latest(
                old, unlatest, self.keys, self.edits.latest_column, self.now
            )
            tally.updated += int(cleared.sum())
            changed = changed | cleared
            new = old if changed.any() else None
        if upserts.num_rows or flags.num_rows:
            edited, counts, origin, changed = apply_edits(
                old, upserts, flags, self.keys, self.now, changed
            )
            tally.add(counts)
            new = edited if edited is not None else new
        tally.changed = int(changed.sum())
        return new, origin, changed, tally

    def _prepare(self, old: pa.Table, tally: Tally) -> tuple[pa.Table, np.ndarray]:
        """Return a batch in the table's (possibly new) schema, filled from the source.

        Also return which rows the fill changed.
        """
        unchanged = np.zeros(old.num_rows, dtype=bool)
        if self.change is None:
            return old, unchanged
        change = self.change
        if change.transform is not None:
            old = change.transform(old)
        old = upgrade(old, change.schema, self.now)
        if self.fill_index is not None and change.fill is not None:
            old, filled = fill(old, self.fill_index, change.fill, change.columns, self.now)
            tally.filled += int(filled.sum())
            return old, filled
        return old, unchanged

    def _backfill(self, old: pa.Table) -> tuple[pa.Table, np.ndarray]:
        """Give rows the metadata columns just turned on; return which rows got them."""
        if self.stamp is None or self.change is None:
            return old, np.zeros(old.num_rows, dtype=bool)
        return self.stamp.backfill(old)

    def _report(
        self,
        original: pa.Table,
        new: pa.Table,
        origin: np.ndarray,
        changed: np.ndarray,
    ) -> None:
        """Hand the changed rows' before and after images to the change sink."""
        if self.changes is None or not changed.any():
            return
        rows = np.nonzero(changed)[0]
        self.changes(original.take(pa.array(origin[rows])), new.take(pa.array(rows)))

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


def _for_fragment(table: pa.Table, index: int) -> pa.Table:
    return table.filter(pc.equal(table.column(FRAGMENT), index))
