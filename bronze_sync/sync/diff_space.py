"""Where a table's diff runs: in memory, or in key partitions spilled to staging.

The bronze state and the source's keys are the only inputs that grow with the table. When
they would not fit the memory budget, both are split by key hash into partition files and the
plan is computed one partition at a time (`diff.plan_parts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake import DeltaTable

from bronze_sync.bronze.reader import (
    KEY_HASH,
    BronzeState,
    StateScope,
    active_mask,
    flag_counts,
    read_state,
)
from bronze_sync.config.models import TableConfig
from bronze_sync.diff.plan import PlanInput, SyncPlan, plan_sync
from bronze_sync.diff.plan_parts import plan_in_parts
from bronze_sync.diff.spill import KeySpill, partitions_for


class DiffSpace:
    """The memory plan of one table's diff: how many key partitions, and their spill files."""

    def __init__(self, folder: Path, key_columns: Sequence[str], parts: int) -> None:
        self.folder = folder
        self.key_columns = list(key_columns)
        self.parts = parts
        self._reads = 0
        self._state: KeySpill | None = None
        self._keys: KeySpill | None = None

    @classmethod
    def for_table(
        cls,
        delta: DeltaTable,
        table: TableConfig,
        folder: Path,
        budget_mb: int,
        parts: int | None = None,
    ) -> DiffSpace:
        """Return the diff space that keeps `table`'s diff within `budget_mb` (or `parts`)."""
        return cls(folder, table.primary_key, parts or partitions_for(delta.count(), budget_mb))

    @property
    def partitioned(self) -> bool:
        """Return whether the diff runs in spilled key partitions."""
        return self.parts > 1

    def read_state(
        self,
        delta: DeltaTable,
        table: TableConfig,
        scope: StateScope | None = None,
        key_hash: bool = False,
    ) -> BronzeState:
        """Read the bronze state; when partitioned, into spill files (its `rows` stay empty)."""
        columns = (table.primary_key, table.created_column, table.modified_column)
        if not self.partitioned:
            return read_state(delta, *columns, scope=scope, key_hash=key_hash)
        self._reads += 1  # a retry re-reads a newer version into fresh files
        spill = KeySpill(self.folder, f"state{self._reads}", self.key_columns, self.parts)
        state = read_state(delta, *columns, spill.add, scope=scope, key_hash=key_hash)
        spill.close(state.rows.schema)
        self._state = spill
        _release_freed_memory()
        return state

    def active_hashes(self, state: BronzeState) -> np.ndarray:
        """Return the key hashes (KEY_HASH) of the active bronze rows."""
        parts = [state.rows] if not self.partitioned else self._state_parts()
        hashes = [
            rows.column(KEY_HASH).to_numpy()[active_mask(rows)] for rows in parts if rows.num_rows
        ]
        return np.concatenate(hashes) if hashes else np.empty(0, dtype=np.int64)

    def flag_counts(self, state: BronzeState) -> dict[str, int]:
        """Return total, active, deleted and purged counts of the state's rows."""
        parts = [state.rows] if not self.partitioned else self._state_parts()
        counts = [flag_counts(rows) for rows in parts]
        return {name: sum(c[name] for c in counts) for name in counts[0]}

    def _state_parts(self) -> list[pa.Table]:
        assert self._state is not None, "read_state() first"
        return [self._state.part(p) for p in range(self.parts)]

    def keep_keys(self, source_keys: pa.Table | None, table_name: str) -> pa.Table | None:
        """Return the source keys the planner keeps in memory (when partitioned: none, spilled).

        Raise SourceDataError when a spilled key repeats (equal keys share a partition).
        """
        if not self.partitioned or source_keys is None:
            return source_keys
        spill = KeySpill(self.folder, "keys", self.key_columns, self.parts)
        spill.add(source_keys)
        spill.close(source_keys.schema)
        spill.check_unique(table_name, "source key scan")
        self._keys = spill
        _release_freed_memory()
        # An empty table (not a slice) so the staged file's memory map can be released.
        return source_keys.schema.empty_table()

    def plan(self, inp: PlanInput) -> SyncPlan:
        """Return the sync plan, computed partition by partition when partitioned."""
        if not self.partitioned:
            return plan_sync(inp)
        assert self._state is not None, "read_state() first"
        keys = self._keys if inp.source_keys is not None else None
        plan = plan_in_parts(inp, self._state, keys)
        _release_freed_memory()
        return plan


def _release_freed_memory() -> None:
    # mimalloc keeps freed pages for reuse; between phases they only inflate the peak.
    pa.default_memory_pool().release_unused()
