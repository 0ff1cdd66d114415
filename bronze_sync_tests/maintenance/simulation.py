"""A month (or a few days) of daily syncs against PostgreSQL, with checkpoints of every type."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from deltalake import DeltaTable

from bronze_sync.alerts import Alert
from bronze_sync.checkpoints import (
    Checkpoint,
    CheckpointType,
    create_batch_checkpoint,
    create_checkpoint,
    list_checkpoints,
)
from bronze_sync.maintenance.storage import list_files
from bronze_sync_tests.helpers import PgTable

START = dt.datetime(2025, 1, 1, 6, tzinfo=dt.UTC)
TABLES = ("account", "contact")


class RecordingNotifier:
    """Collect alerts instead of delivering them."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        """Keep `alert`."""
        self.alerts.append(alert)


@dataclass
class Simulation:
    """The harness, the source tables and the simulated clock after the syncs."""

    harness: Any
    sources: dict[str, PgTable]
    last_day: dt.datetime

    def day(self, n: int) -> dt.datetime:
        """Return the simulated time of day `n` (06:00 UTC)."""
        return START + dt.timedelta(days=n)


def simulate(
    pg_engine: sa.Engine,
    pg_schema: str,
    make_config: Any,
    harness_for: Any,
    days: int,
    **settings: Any,
) -> Simulation:
    """Sync two changing tables once a day for `days` days; add manual/purge/rollback points."""
    sources = {name: PgTable(pg_engine, pg_schema, name) for name in TABLES}
    for table in sources.values():
        table.insert_ids(f"{i:04d}" for i in range(200))
    settings = {"vacuum_retention_hours": 0, "allow_short_retention": True, **settings}
    config = make_config([t.config(**settings) for t in sources.values()])
    harness = harness_for(config)
    sim = Simulation(harness, sources, START)
    for n in range(days):
        now = sim.day(n)
        harness.now = sim.last_day = now
        if n:
            _change(sources, n)
        for name in TABLES:
            harness.sync(name, partition=now.date().isoformat())
        create_batch_checkpoint(harness.meta, now.date().isoformat(), now, "test")
        _extra_checkpoints(harness, n, now)
    return sim


def _change(sources: dict[str, PgTable], n: int) -> None:
    for table in sources.values():
        table.update([f"{(n * 7 + i) % 200:04d}" for i in range(20)], name=f"day {n}")
        table.insert_ids(f"n{n:03d}_{i}" for i in range(5))
        table.delete([f"{(n * 11) % 200:04d}"])


def _extra_checkpoints(harness: Any, n: int, now: dt.datetime) -> None:
    kinds = {
        0: CheckpointType.MANUAL,
        2: CheckpointType.PRE_PURGE,
        3: CheckpointType.MANUAL,
        5: CheckpointType.POST_ROLLBACK,
    }
    if n in kinds:
        versions = {name: harness.delta(name).version() for name in TABLES}
        create_checkpoint(
            harness.meta, f"{kinds[n].value.lower()}_day{n}", kinds[n], versions, now, "test"
        )


def all_checkpoints(harness: Any) -> list[Checkpoint]:
    """Return every checkpoint, active or not."""
    return list_checkpoints(harness.meta, include_inactive=True)


def restored_rows(harness: Any, checkpoint: Checkpoint, scratch: Path) -> int:
    """Restore each pinned table in a copy of its folder; return the rows the copies hold."""
    total = 0
    for table, version in sorted(checkpoint.table_versions.items()):
        copy = scratch / f"{checkpoint.checkpoint_id}_{table}"
        shutil.copytree(harness.store.table_uri(table), copy)
        DeltaTable(str(copy)).restore(version)
        total += DeltaTable(str(copy)).to_pyarrow_table().num_rows
    return total


def listing(harness: Any) -> dict[str, tuple[int, Any]]:
    """Return every file under the bronze root (tables and metadata) with size and mtime."""
    root = Path(harness.store.root)
    out = {}
    for folder in [*root.iterdir(), *(root / "metadata").iterdir()]:
        if folder.name != "metadata" and (folder / "_delta_log").exists():
            for f in list_files(harness.store, str(folder)):
                out[f"{folder.name}/{f.path}"] = (f.size, f.mtime)
    return out
