"""bronze_sync's own sync of the benchmark table (the product's full path, metadata included)."""

from __future__ import annotations

import uuid
from typing import Any

import yaml

from bronze_sync.bench.worker import PhaseRequest
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config import parse_config
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.sources import open_source
from bronze_sync.sync import SyncJob, run_table_sync


def run_phase(request: PhaseRequest) -> dict[str, Any]:
    """Sync the source table once (initial, daily or no-op: the same call)."""
    raw = {
        "source": {"kind": "sql", "url": request.pg_url},
        "bronze": {"path": f"{request.workdir}/bronze"},
        "sync": {"staging_path": f"{request.workdir}/staging"},
        "tables": [
            {
                "name": "bench",
                "source": request.source,
                "primary_key": "id",
                "created_column": "created_at",
                "modified_column": "modified_at",
            }
        ],
    }
    config = parse_config(yaml.safe_dump(raw), env={})
    store = BronzeStore.from_config(config.bronze)
    with open_source(config) as source:
        job = SyncJob(
            source=source,
            store=store,
            meta=MetadataStore(store),
            run=RunInfo(run_id=f"bench-{request.phase}-{uuid.uuid4().hex[:6]}"),
            staging_root=config.sync.staging_path,
        )
        result = run_table_sync(job, config.tables[0])
    phases = {k: round(v, 3) for k, v in result.phases.items()}
    return {"phases": phases, "counts": result.metadata(), "committed": result.committed}
