"""Rollback benchmark: bronze tables flagged wrongly by a bad sync, analysed and restored.

The tables are written straight to Delta (the rollback never reads the source): version 0
holds every row active, version 1 flags a share of them IsDeleted like a source outage
would. A Manual checkpoint pins version 0; the figures time the dry run (validation and
key-by-key impact analysis) and the approved execution (restore, validation, snapshots,
reports, PostRollback checkpoint) separately.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml
from deltalake import write_deltalake

from bronze_sync.alerts import LogNotifier
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.bronze.tracking import DELETED_DATE, IS_DELETED, SyncOp, live_rows
from bronze_sync.checkpoints import CheckpointType, create_checkpoint
from bronze_sync.config import Config, parse_config
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.rollback import RollbackOutcome, RollbackRequest, run_rollback

CHECKPOINT = "bench_good"
BAD_SHARE = 0.5


def prepare_bench(root: Path, tables: int, rows: int) -> Config:
    """Write `tables` bronze tables of `rows` rows, break them, checkpoint the good version."""
    names = [f"t{i:03d}" for i in range(tables)]
    raw = {
        "source": {"kind": "sql", "url": "sqlite:///unused.db"},
        "bronze": {"path": str(root)},
        "tables": [{"name": n, "source": n, "primary_key": "id"} for n in names],
    }
    config = parse_config(yaml.safe_dump(raw), env={}, origin="bench")
    store = BronzeStore.from_config(config.bronze)
    now = dt.datetime.now(dt.UTC)
    for name in names:
        uri = store.table_uri(name)
        good = live_rows(_rows(rows), SyncOp.INSERT, now)
        write_deltalake(uri, good, mode="overwrite")
        write_deltalake(uri, _flag_share(good, now), mode="overwrite")
    create_checkpoint(
        MetadataStore(store), CHECKPOINT, CheckpointType.MANUAL, dict.fromkeys(names, 0), now, "b"
    )
    return config


def roll_back(config: Config, dry_run: bool, token: str | None = None) -> RollbackOutcome:
    """Roll every table back to the bench checkpoint (dry run, or approved execution)."""
    request = RollbackRequest(
        CHECKPOINT, dry_run=dry_run, approval_token=token, requested_by="bench", reason="bench"
    )
    run = RunInfo(run_id=str(uuid.uuid4()), pipeline_name="rollback_to_checkpoint")
    store = BronzeStore.from_config(config.bronze)
    return run_rollback(config, store, request, run, LogNotifier())


def bench_rollback(
    tables: int = 50, rows_per_table: int = 10_000, workdir: Path | None = None
) -> list[dict[str, Any]]:
    """Time the dry run and the execution of a rollback of `tables` tables; one dict each."""
    with tempfile.TemporaryDirectory(dir=workdir, prefix="bench_rollback_") as folder:
        config = prepare_bench(Path(folder) / "bronze", tables, rows_per_table)
        started = time.perf_counter()
        dry = roll_back(config, dry_run=True)
        planned = time.perf_counter() - started
        started = time.perf_counter()
        done = roll_back(config, dry_run=False, token=dry.plan.token)
        executed = time.perf_counter() - started
    if not done.success:
        raise RuntimeError(f"bench rollback failed: {[r.error for r in done.results]}")
    total = tables * rows_per_table
    label = f"{tables}x{rows_per_table}"
    return [
        _figure(f"rollback_dry_run_{label}", planned, total),
        _figure(f"rollback_execute_{label}", executed, total),
    ]


def bench_rollback_large(rows: int = 1_000_000, workdir: Path | None = None) -> list[dict]:
    """Time the dry run and the execution of a rollback of one table of `rows` rows."""
    return bench_rollback(tables=1, rows_per_table=rows, workdir=workdir)


def _figure(phase: str, seconds: float, rows: int) -> dict[str, Any]:
    return {
        "tool": "bronze_sync",
        "phase": phase,
        "seconds": seconds,
        "rows": rows,
        "peak_mb": None,
    }


def _rows(count: int) -> pa.Table:
    ids = pa.array([f"k{i:09d}" for i in range(count)])
    return pa.table(
        {
            "id": ids,
            "name": pc.binary_join_element_wise("name ", ids, ""),
            "amount": pa.array(range(count), pa.int64()),
        }
    )


def _flag_share(good: pa.Table, now: dt.datetime) -> pa.Table:
    """Return `good` with the second half of its rows flagged IsDeleted (a bad sync)."""
    n = good.num_rows
    cut = int(n * (1 - BAD_SHARE))
    flags = pa.array([False] * cut + [True] * (n - cut))
    dates = pa.array([None] * cut + [now] * (n - cut), pa.timestamp("us", tz="UTC"))
    good = good.set_column(good.schema.get_field_index(IS_DELETED), IS_DELETED, flags)
    return good.set_column(good.schema.get_field_index(DELETED_DATE), DELETED_DATE, dates)
