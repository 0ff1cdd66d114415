"""Run one table's sync in a process of its own: the reliability tests kill or pause it.

`python -m bronze_sync_tests.sync.child CONFIG [TABLE]` exits 0 after a sync, 3 when the
sync lost its lease, 1 on any other bronze_sync error (its message on stderr).
"""

from __future__ import annotations

import sys
import uuid

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config import load_config
from bronze_sync.errors import BronzeSyncError, LeaseLostError
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.sources import open_source
from bronze_sync.sync import SyncJob, run_table_sync

LEASE_LOST = 3


def main(config_path: str, table_name: str | None = None) -> int:
    """Sync one table of the configuration; return the exit code."""
    config = load_config(config_path)
    table = config.table(table_name) if table_name else config.tables[0]
    store = BronzeStore.from_config(config.bronze)
    with open_source(config) as source:
        job = SyncJob(
            source=source,
            store=store,
            meta=MetadataStore(store),
            run=RunInfo(run_id=f"child-{uuid.uuid4()}"),
            staging_root=config.sync.staging_path,
            lease_seconds=config.sync.lease_seconds,
            lease_wait_seconds=config.sync.lease_wait_seconds,
        )
        try:
            result = run_table_sync(job, table)
        except LeaseLostError as exc:
            print(f"LeaseLostError: {exc}", file=sys.stderr)
            return LEASE_LOST
        except BronzeSyncError as exc:
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print(f"version {result.version} inserted {result.inserted} updated {result.updated}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
