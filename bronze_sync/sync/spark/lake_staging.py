"""Stage extracted rows and keys as Parquet under the bronze root, where the cluster reads them."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterable

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake._internal import DeltaFileSystemHandler
from deltalake.fs import DeltaStorageHandler

from bronze_sync.bronze.storage import BronzeStore

ROWS_PER_FILE = 500_000
STAGING_DIR = "_bronze_sync/spark_staging"


class LakeStaging:
    """One sync's staging folder in the lake: `{root}/_bronze_sync/spark_staging/{table}/{run}`."""

    def __init__(self, store: BronzeStore, table: str, run_id: str) -> None:
        self.store = store
        self.relative = f"{STAGING_DIR}/{table}/{run_id}"

    def location(self, name: str) -> str:
        """Return where the cluster finds staged set `name`."""
        if self.store.is_local:
            return os.path.join(self.store.root, self.relative, name)
        return f"{self.store.display_root}/{self.relative}/{name}"

    def stage(
        self,
        name: str,
        batches: Iterable[pa.RecordBatch],
        schema: pa.Schema,
        on_batch: Callable[[pa.RecordBatch], None] | None = None,
    ) -> int:
        """Write `batches` as Parquet files of set `name`; return the rows written."""
        pending: list[pa.RecordBatch] = []
        held = total = files = 0
        for batch in batches:
            if on_batch is not None:
                on_batch(batch)
            if not batch.num_rows:
                continue
            pending.append(batch)
            held += batch.num_rows
            total += batch.num_rows
            if held >= ROWS_PER_FILE:
                self._write(name, files, pa.Table.from_batches(pending, schema))
                pending, held, files = [], 0, files + 1
        if pending or not files:
            # An empty set is still one file: the cluster needs its schema.
            self._write(name, files, pa.Table.from_batches(pending, schema))
        return total

    def _write(self, name: str, number: int, rows: pa.Table) -> None:
        sink = pa.BufferOutputStream()
        pq.write_table(rows, sink, compression="zstd")
        data = sink.getvalue().to_pybytes()
        self.store.write_object(f"{self.relative}/{name}/part-{number:05d}.parquet", data)

    def remove_stale(self) -> list[str]:
        """Delete what crashed earlier syncs of this table left staged; return their runs.

        Safe: the caller holds the table's lease, so no other sync of it is staging now.
        """
        parent = self.relative.rsplit("/", 1)[0]
        filesystem = pafs.PyFileSystem(DeltaStorageHandler(self.store.root, self.store.options()))
        try:
            found = filesystem.get_file_info(pafs.FileSelector(parent, allow_not_found=True))
        except OSError:
            return []
        stale = [f.path for f in found if f.type == pafs.FileType.Directory]
        for path in stale:
            self._delete(path.lstrip("/"))
        return [path.rsplit("/", 1)[-1] for path in stale]

    def remove(self) -> None:
        """Delete this sync's staging folder (best effort: cleanup never fails a sync)."""
        self._delete(self.relative)

    def _delete(self, relative: str) -> None:
        if self.store.is_local:
            shutil.rmtree(os.path.join(self.store.root, relative), ignore_errors=True)
            return
        with contextlib.suppress(Exception):
            DeltaFileSystemHandler(self.store.root, self.store.options()).delete_dir(relative)
