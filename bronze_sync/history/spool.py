"""Collect a live sync's changed rows as the rewrite finds them, spilled to a Parquet file."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bronze_sync.history.images import history_rows


class ChangeSpool:
    """A change sink for `rewrite_commit`: history rows of one commit, on local disk.

    Memory stays bounded by one batch however many rows change (a schema fill can change
    every row); the file lives in the sync's staging folder and goes with it.
    """

    def __init__(self, folder: Path, keys: Sequence[str]) -> None:
        self.path = Path(folder) / "history-changes.parquet"
        self.keys = list(keys)
        self.bronze: pa.Schema | None = None
        self.rows = 0
        self._lock = threading.Lock()
        self._writer: pq.ParquetWriter | None = None

    def __call__(self, before: pa.Table | None, after: pa.Table) -> None:
        """Turn one set of aligned images into history rows and spill them."""
        rows = history_rows(before, after, after.schema, self.keys)
        with self._lock:
            if self._writer is None:
                self.bronze = after.schema
                self._writer = pq.ParquetWriter(self.path, rows.schema, compression="snappy")
            self._writer.write_table(rows)
            self.rows += rows.num_rows

    def close(self) -> None:
        """Finish the spill file."""
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def parts(self) -> Iterator[pa.Table]:
        """Yield the spilled history rows a batch at a time."""
        self.close()
        if self.bronze is None:
            return
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=262_144):
            yield pa.Table.from_batches([batch])
