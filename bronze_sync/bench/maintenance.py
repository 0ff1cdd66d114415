"""Benchmark of weekly maintenance: a dry run and a real run over a table with many versions."""

from __future__ import annotations

import datetime as dt
import resource
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from deltalake import write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import CheckpointType, create_checkpoint
from bronze_sync.config import parse_config
from bronze_sync.maintenance import MaintenanceRequest, run_maintenance
from bronze_sync.metadata import MetadataStore

NOW = dt.datetime(2025, 2, 2, 2, tzinfo=dt.UTC)


def bench_vacuum(workdir: str, rows: int = 200_000, versions: int = 20) -> list[dict[str, Any]]:
    """Time a dry run and a real maintenance run of a table rewritten `versions` times."""
    root = Path(workdir) / "maintenance_bench"
    raw = {
        "source": {"kind": "sql", "url": "postgresql+psycopg://bench@127.0.0.1/unused"},
        "bronze": {"path": str(root)},
        "tables": [
            {
                "name": "bench",
                "source": "public.bench",
                "primary_key": "id",
                "vacuum_retention_hours": 0,
                "allow_short_retention": True,
            }
        ],
    }
    config = parse_config(yaml.safe_dump(raw), env={})
    store = BronzeStore.from_config(config.bronze)
    meta = MetadataStore(store)
    uri = store.table_uri("bench")
    for version in range(versions):
        data = pa.table({"id": pa.array(range(rows), pa.int64()), "v": [version] * rows})
        write_deltalake(uri, data, mode="overwrite" if version else "error")
        if version % 5 == 0:  # a few pinned versions VACUUM must keep
            create_checkpoint(
                meta, f"bench_{version}", CheckpointType.MANUAL, {"bench": version}, NOW, "bench"
            )
    out = []
    for phase, dry_run in (("maintenance_dry_run", True), ("maintenance", False)):
        start = time.perf_counter()
        run_maintenance(config, store, MaintenanceRequest(dry_run=dry_run), now=NOW)
        out.append(
            {
                "tool": "bronze_sync",
                "phase": phase,
                "seconds": time.perf_counter() - start,
                "rows": rows,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    return out
