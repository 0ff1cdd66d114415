"""A per-sync folder of Arrow IPC files, read back memory-mapped."""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

import pyarrow as pa

from bronze_sync.staging.owner import Owner, write_marker

BatchHook = Callable[[pa.RecordBatch], None]

log = logging.getLogger(__name__)


def staging_base(root: str | Path | None) -> Path:
    """Return the folder holding every table's staging (`sync.staging_path`, else temp)."""
    return Path(root) if root else Path(tempfile.gettempdir()) / "bronze_sync_staging"


class StagingArea:
    """Stage record batches in files under one folder that is removed afterwards.

    The folder holds an owner marker (host, pid, process start time) so that, should this
    process be killed, `remove_dead_staging` can tell the folder is abandoned.
    """

    def __init__(self, root: str | None, table: str, run_id: str) -> None:
        self.dir = staging_base(root) / table / f"{run_id[:12]}-{uuid.uuid4().hex[:8]}"
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            write_marker(self.dir, Owner.current(run_id))
        except BaseException:
            self.close()
            raise

    def stage(
        self,
        name: str,
        batches: Iterable[pa.RecordBatch],
        schema: pa.Schema,
        on_batch: BatchHook | None = None,
    ) -> pa.Table:
        """Write `batches` to an IPC file and return it as a memory-mapped table."""
        path = self.dir / f"{name}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            for batch in batches:
                if on_batch is not None:
                    on_batch(batch)
                if batch.num_rows:
                    writer.write_batch(batch)
        return self.read(name)

    def read(self, name: str) -> pa.Table:
        """Return a staged file as a memory-mapped table."""
        source = pa.memory_map(str(self.dir / f"{name}.arrow"), "r")
        return pa.ipc.open_file(source).read_all()

    def close(self) -> None:
        """Remove the staging folder (a failure is logged; the next sweep retries it)."""
        try:
            shutil.rmtree(self.dir)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot remove staging folder %s: %s", self.dir, exc)

    def __enter__(self) -> StagingArea:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
