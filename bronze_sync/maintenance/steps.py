"""Run a table's maintenance steps one after another, each on a freshly opened Delta table."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from deltalake import DeltaTable

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.maintenance.operations import OperationResult
from bronze_sync.maintenance.storage import measure
from bronze_sync.maintenance.summary import FAILED, TableOutcome

# (operation, enabled, what it does to the opened table)
Step = tuple[str, bool, Callable[[DeltaTable], OperationResult]]


def run_steps(
    store: BronzeStore, uri: str, outcome: TableOutcome, steps: Sequence[Step]
) -> TableOutcome:
    """Run each enabled step on a freshly opened table; a failing step never stops the next."""
    for operation, enabled, step in steps:
        if not enabled:
            outcome.operations.append(
                OperationResult(operation, "Skipped", details=["disabled in the configuration"])
            )
            continue
        try:
            delta = DeltaTable(uri, storage_options=store.options())
            before = delta.version()
            result = step(delta)
            delta.update_incremental()
            result.versions = list(range(before + 1, delta.version() + 1))
            outcome.operations.append(result)
        except Exception as exc:
            message = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
            outcome.operations.append(OperationResult(operation, FAILED, error=message))
    try:
        outcome.version = DeltaTable(uri, storage_options=store.options()).version()
    except Exception:
        outcome.version = None
    outcome.after = measure(store, uri)
    return outcome
