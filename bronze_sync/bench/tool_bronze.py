"""bronze_sync's own sync of the benchmark table (the product's full path, metadata included)."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow.parquet as pq
import yaml

from bronze_sync.alerts import LogNotifier
from bronze_sync.bench.worker import PhaseRequest, peak_rss_mb
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import CheckpointType, create_checkpoint
from bronze_sync.config import Config, parse_config
from bronze_sync.maintenance import MaintenanceRequest, run_maintenance
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.rollback import RollbackRequest, run_rollback
from bronze_sync.sources import open_source
from bronze_sync.sync import SyncJob, SyncResult, run_table_sync

TABLE = "bench"
BEFORE_DAILY = "bench_before_daily"


def run_phase(request: PhaseRequest) -> dict[str, Any]:
    """Sync the source table once (initial, daily, no-op), or roll back to before the daily.

    With `spark_remote` the table is configured `engine: spark`: its syncs run on that server.
    """
    config = _config(request)
    if request.phase == "rollback":
        return _rollback(config)
    if request.phase == "vacuum":
        return _maintenance(config)
    result, _ = sync_once(config, f"bench-{request.phase}-{uuid.uuid4().hex[:6]}")
    if request.phase == "initial":
        # The rollback phase restores this version (a Manual checkpoint, as an operator would).
        create_checkpoint(
            MetadataStore(BronzeStore.from_config(config.bronze)),
            BEFORE_DAILY,
            CheckpointType.MANUAL,
            {TABLE: result.version},
            dt.datetime.now(dt.UTC),
            "bench",
            total_rows=result.counts.get("total"),
        )
    phases = {k: round(v, 3) for k, v in result.phases.items()}
    figures = {"phases": phases, "counts": result.metadata(), "committed": result.committed}
    if result.committed and result.files_rewritten:
        peak_mb, started = peak_rss_mb(), time.perf_counter()
        phases["commit_floor"] = round(commit_floor(config, result.version), 3)
        figures |= {"peak_mb": peak_mb, "untimed_seconds": time.perf_counter() - started}
    return figures


def commit_floor(config: Config, version: int) -> float:
    """Return the seconds pyarrow alone takes to read and rewrite the files a commit replaced.

    Same codec (snappy) and pyarrow's default row groups, written to a scratch folder: the
    least any copy-on-write commit of that change can cost here.
    """
    folder = Path(config.bronze.path) / TABLE
    log = folder / "_delta_log" / f"{version:020d}.json"
    actions = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    removed = [unquote(a["remove"]["path"]) for a in actions if "remove" in a]
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        for index, path in enumerate(removed):
            data = pq.read_table(folder / path)
            pq.write_table(data, f"{scratch}/{index}.parquet", compression="snappy")
        return time.perf_counter() - started


def sync_once(config: Config, run_id: str) -> tuple[SyncResult, float]:
    """Sync the configured table once; return the result and the sync's own seconds."""
    store = BronzeStore.from_config(config.bronze)
    with open_source(config) as source:
        job = SyncJob(
            source=source,
            store=store,
            meta=MetadataStore(store),
            run=RunInfo(run_id=run_id),
            staging_root=config.sync.staging_path,
            memory_budget_mb=config.sync.memory_budget_mb,
            diff_partitions=config.sync.diff_partitions,
        )
        started = time.perf_counter()
        result = run_table_sync(job, config.tables[0])
        return result, time.perf_counter() - started


def _rollback(config: Config) -> dict[str, Any]:
    """Dry-run then execute a rollback of the table to the checkpoint taken after the initial."""
    store = BronzeStore.from_config(config.bronze)
    phases: dict[str, float] = {}
    token = None
    for dry_run in (True, False):
        request = RollbackRequest(
            BEFORE_DAILY, dry_run=dry_run, approval_token=token, requested_by="bench"
        )
        run = RunInfo(run_id=str(uuid.uuid4()), pipeline_name="rollback_to_checkpoint")
        started = dt.datetime.now(dt.UTC)
        outcome = run_rollback(config, store, request, run, LogNotifier())
        phases["dry_run" if dry_run else "execute"] = (
            dt.datetime.now(dt.UTC) - started
        ).total_seconds()
        token = outcome.plan.token
    if not outcome.success:
        raise RuntimeError(f"bench rollback failed: {[r.error for r in outcome.results]}")
    return {"phases": phases}


def _maintenance(config: Config) -> dict[str, Any]:
    """Run the weekly maintenance (VACUUM keeping checkpointed versions, OPTIMIZE) once."""
    store = BronzeStore.from_config(config.bronze)
    summary = run_maintenance(
        config, store, MaintenanceRequest(created_by="bench"), now=dt.datetime.now(dt.UTC)
    )
    if summary.failures or summary.unrestorable:
        raise RuntimeError(f"bench maintenance failed: {summary.headline()}")
    return {"maintenance": summary.headline(), "bytes_reclaimed": summary.bytes_reclaimed}


def _config(request: PhaseRequest) -> Config:
    raw = {
        "source": {"kind": "sql", "url": request.pg_url},
        "bronze": {"path": f"{request.workdir}/bronze"},
        "sync": {
            "staging_path": f"{request.workdir}/staging",
            **({"memory_budget_mb": request.memory_budget_mb} if request.memory_budget_mb else {}),
        },
        "tables": [
            {
                "name": TABLE,
                "source": request.source,
                "primary_key": "id",
                "created_column": "created_at",
                "modified_column": "modified_at",
                # Reclaim every file no checkpoint needs; pinned versions are kept regardless.
                "vacuum_retention_hours": 0,
                "allow_short_retention": True,
                **_engine(request),
            }
        ],
    }
    return parse_config(yaml.safe_dump(raw), env={})


def _engine(request: PhaseRequest) -> dict[str, Any]:
    """Return the table's engine settings: spark on the bench's server, else the default."""
    if request.spark_remote is None:
        return {}
    return {"engine": "spark", "spark": {"remote": request.spark_remote}}
