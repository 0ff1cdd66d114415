"""Fixtures of the row-history tests: an account table synced into bronze with history."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from bronze_sync.history.columns import history_uri
from bronze_sync.metadata import RunInfo
from bronze_sync.rollback.execute import restore_table
from bronze_sync.rollback.request import RollbackTarget
from bronze_sync_tests.helpers import PgTable


@pytest.fixture
def account(pg_engine, pg_schema):
    return PgTable(pg_engine, pg_schema)


@pytest.fixture
def h(account, make_config, harness_for):
    return harness_for(make_config([account.config(max_delete_fraction=1)]))


def history_table(h: Any, name: str = "account") -> Any:
    """Return the table's whole history as a pyarrow table."""
    delta = h.store.open(history_uri(h.store, name))
    assert delta is not None, "no history table"
    return delta.to_pyarrow_table()


def roll_back(h: Any, version: int, name: str = "account") -> int:
    """Restore bronze to `version` the way the rollback job does; return the new version."""
    current = h.delta(name).version()
    result = restore_table(
        h.store,
        RollbackTarget(name, version, current),
        RunInfo(run_id=f"rollback-{uuid.uuid4()}", pipeline_name="rollback_to_checkpoint"),
        "test-checkpoint",
        list(h.config.table(name).primary_key),
    )
    assert result.success, result.error
    assert result.new_version is not None
    return result.new_version
