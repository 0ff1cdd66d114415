"""Rollback scenarios: a synced account table with a Manual checkpoint, and helpers to break and roll it back."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from bronze_sync.alerts import Alert
from bronze_sync.checkpoints.lifecycle import create_manual_checkpoint
from bronze_sync.metadata import RunInfo
from bronze_sync.rollback import RollbackOutcome, RollbackRequest, run_rollback
from bronze_sync_tests.helpers import PgTable

IDS = [f"a{i:02d}" for i in range(12)]


class Alerts:
    """A notifier that keeps what it is sent."""

    def __init__(self) -> None:
        self.sent: list[Alert] = []

    def send(self, alert: Alert) -> None:
        """Keep `alert`."""
        self.sent.append(alert)


def outage(table: PgTable, keep: int) -> None:
    """Hide all but the first `keep` ids of the source in a side table (a failing source)."""
    hidden = f'"{table.schema}"."hidden_{table.name}"'
    cutoff = sorted(table.ids())[keep]
    table.execute(
        f"CREATE TABLE {hidden} AS SELECT * FROM {table.source} WHERE id >= '{cutoff}';"
        f"DELETE FROM {table.source} WHERE id >= '{cutoff}'"
    )


def recover(table: PgTable) -> None:
    """Bring the hidden rows back (the source is healthy again)."""
    hidden = f'"{table.schema}"."hidden_{table.name}"'
    table.execute(f"INSERT INTO {table.source} SELECT * FROM {hidden}; DROP TABLE {hidden}")


def rollback(h: Any, checkpoint: str, **kwargs: Any) -> RollbackOutcome:
    """Run a rollback through the domain API with a fresh run id."""
    request = RollbackRequest(
        checkpoint_name=checkpoint, requested_by="tester", reason="bad sync", **kwargs
    )
    run = RunInfo(run_id=str(uuid.uuid4()), pipeline_name="rollback_to_checkpoint")
    return run_rollback(h.config, h.store, request, run, h.alerts)


def checkpoint(h: Any, name: str, tables: list[str] | None = None) -> None:
    """Pin the current versions in a Manual checkpoint."""
    create_manual_checkpoint(h.config, h.store, name, tables, dt.datetime.now(dt.UTC), "tester")


def synced(pg_engine, pg_schema, make_config, harness_for, **settings: Any) -> Any:
    """Return a harness over a synced 12-row account table checkpointed as `good`."""
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(IDS)
    h = harness_for(make_config([account.config(**settings)]))
    h.sync()
    checkpoint(h, "good")
    h.account = account
    h.alerts = Alerts()
    return h
