"""Write history rows as Parquet files and commit them as ONE append pinned to a version.

Files are written here a row group at a time (bounded memory however many rows a version
changed) and committed with `create_write_transaction` and no commit retries: the append
lands right after the history version its coverage was decided on, or not at all.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Field, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.transaction import AddAction, RemoveAction

from bronze_sync.bronze.data_files import DataFiles
from bronze_sync.errors import BronzeError, CommitConflictError

ROW_GROUP_ROWS = 131_072
FILE_ROWS = 4_000_000


def history_table_for(uri: str, options: dict[str, str] | None, schema: pa.Schema) -> DeltaTable:
    """Create the (empty) history table at `uri`; another writer creating it first conflicts."""
    try:
        write_deltalake(uri, schema.empty_table(), mode="error", storage_options=options)
    except DeltaError as exc:
        if "already exists" in str(exc) or isinstance(exc, CommitFailedError):
            raise CommitConflictError(f"another writer created {uri} first") from None
        raise
    return DeltaTable(uri, storage_options=options)


def add_new_columns(delta: DeltaTable, wanted: pa.Schema) -> pa.Schema:
    """Add the columns of `wanted` the table lacks (one commit); return the table's schema."""
    current = delta.to_pyarrow_dataset().schema
    extra = [f for f in wanted if f.name not in current.names]
    if not extra:
        return current
    before = delta.version()
    delta.alter.add_columns([Field.from_arrow(pa.field(f.name, f.type, True)) for f in extra])
    delta.update_incremental()
    if delta.version() != before + 1:
        raise CommitConflictError("another writer changed the history table meanwhile")
    return delta.to_pyarrow_dataset().schema


class HistoryFiles:
    """The Parquet files one history append writes into the history table's folder."""

    def __init__(self, delta: DeltaTable, schema: pa.Schema) -> None:
        self.delta, self.schema = delta, schema
        self.files = DataFiles(delta.to_pyarrow_dataset(), "", [])
        self.actions: list[AddAction | RemoveAction] = []
        self._writer: pq.ParquetWriter | None = None
        self._sink: Any = None
        self._path = ""
        self._rows = 0
        self._nulls: dict[str, int] = {}

    def write_all(self, tables: Iterable[pa.Table]) -> None:
        """Write every table's rows (already in the history schema)."""
        for table in tables:
            for batch in table.to_batches(max_chunksize=ROW_GROUP_ROWS):
                self._write(pa.Table.from_batches([batch], schema=self.schema))
        self._close()

    def _write(self, rows: pa.Table) -> None:
        if self._writer is None:
            self._path = self.files.new_path()
            self._sink = self.files.filesystem.open_output_stream(self._path)
            self._writer = pq.ParquetWriter(self._sink, self.schema, compression="snappy")
        self._writer.write_table(rows, row_group_size=ROW_GROUP_ROWS)
        for name in rows.column_names:
            self._nulls[name] = self._nulls.get(name, 0) + rows.column(name).null_count
        self._rows += rows.num_rows
        if self._rows >= FILE_ROWS:
            self._close()

    def _close(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._sink.close()
        self.actions.append(self.files.add_action(self._path, self._stats_json(), {}))
        self._writer, self._sink, self._rows, self._nulls = None, None, 0, {}

    def _stats_json(self) -> str:
        # Counts only: deltalake turns a file's min/max into a filter guarantee, and a column
        # left out of partial min/max statistics would then exclude the file from every
        # filter on it. Readers still skip row groups by the Parquet footers' statistics.
        return json.dumps({"numRecords": self._rows, "nullCount": self._nulls})

    def commit(self, metadata: dict[str, Any], table: str) -> None:
        """Commit the files (or none) as the version right after the one the table was read at."""
        try:
            self.delta.create_write_transaction(
                self.actions,
                mode="append",
                schema=self.schema,
                commit_properties=CommitProperties(custom_metadata=metadata, max_commit_retries=0),
            )
        except CommitFailedError:
            self.discard()
            raise CommitConflictError(
                "another writer appended to the history table first", table=table
            ) from None
        except DeltaError as exc:
            self.discard()
            raise BronzeError(f"cannot append to the history table: {exc}", table=table) from None

    def discard(self) -> None:
        """Remove the files written (they will not be committed)."""
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self._writer.close()
                self._sink.close()
        self._writer = None
        self.files.discard()
