"""Compare two versions of a bronze table key by key, columnar (polars joins, row hashes).

Each version becomes one frame of key columns, a row state (active, deleted, purged) and a
64-bit hash of the value columns both versions share; a full outer join on the key then
tells which rows exist only in one version, which change state and which change values.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pds
from deltalake import DeltaTable

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.bronze.tracking import IS_DELETED, IS_PURGED, TRACKING_NAMES
from bronze_sync.diff.spill import KeySpill, partitions_for
from bronze_sync.errors import BronzeError

SEED = 0xB0_11BA
# 16 key partitions at 10M rows: each join holds ~0.6M rows a side (2048 MB meant 8 parts
# and a 2.2 GB rollback peak at 10M rows, with the retained allocator pages of earlier steps).
COMPARE_BUDGET_MB = 1024
COUNTS = ("total", "active", "deleted", "purged")
MASKS = ("removed", "restored", "reappearing", "value_changes", "unchanged")
SAMPLE = 10
BATCH_ROWS = 262_144
# Buffered column-chunk reads: a 1M-row row group is never read whole at once.
SCAN_OPTIONS = pds.ParquetFragmentScanOptions(
    pre_buffer=False, use_buffered_stream=True, buffer_size=2**20
)
_STATE, _HASH = "__state", "__hash"
ACTIVE, DELETED, PURGED, ABSENT = "active", "deleted", "purged", "absent"


@dataclass(frozen=True)
class Comparison:
    """How table `table` at `to_version` differs from `from_version`, row by row.

    Read it as "going from `from_version` to `to_version`": `removed` rows exist only in
    `from_version`, `restored` ones only in `to_version`, `reappearing` rows are active in
    `to_version` but not in `from_version`.
    """

    table: str
    from_version: int
    to_version: int
    counts_from: dict[str, int]
    counts_to: dict[str, int]
    removed: int = 0
    restored: int = 0
    reappearing: int = 0
    value_changes: int = 0
    unchanged: int = 0
    transitions: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed_rows(self) -> int:
        """Return how many rows are not identical in both versions."""
        return self.counts_from["total"] + self.restored - self.unchanged


def compare_versions(
    store: BronzeStore,
    table: str,
    key_cols: Sequence[str],
    from_version: int,
    to_version: int,
    budget_mb: int = COMPARE_BUDGET_MB,
    parts: int | None = None,
) -> Comparison:
    """Return the key-by-key comparison of two versions of bronze table `table`.

    Versions too large for `budget_mb` are compared in key-hash partitions spilled to a
    temporary folder (a key's rows in both versions share a partition).
    """
    now = _open(store, table, from_version)
    then = _open(store, table, to_version)
    shared = _value_columns(now, key_cols) & _value_columns(then, key_cols)
    parts = parts or partitions_for(now.count() + then.count(), budget_mb)
    tally = _Tally()
    with tempfile.TemporaryDirectory(prefix="bronze_sync_compare_") as folder:
        for old, new in _pairs(now, then, key_cols, shared, Path(folder), parts):
            tally.add(old, new, key_cols)
    return Comparison(
        table=table,
        from_version=from_version,
        to_version=to_version,
        counts_from=dict(tally.counts_from),
        counts_to=dict(tally.counts_to),
        transitions=dict(sorted(tally.transitions.items())),
        samples={k: _sample(v, key_cols) for k, v in tally.samples.items() if v.height},
        **{k: int(v) for k, v in tally.figures.items()},
    )


class _Tally:
    """Figures of a comparison summed over key partitions."""

    def __init__(self) -> None:
        self.figures: Counter[str] = Counter({k: 0 for k in MASKS})
        self.transitions: Counter[str] = Counter()
        self.counts_from: Counter[str] = Counter(dict.fromkeys(COUNTS, 0))
        self.counts_to: Counter[str] = Counter(dict.fromkeys(COUNTS, 0))
        self.samples: dict[str, pl.DataFrame] = {}

    def add(self, old: pl.DataFrame, new: pl.DataFrame, key_cols: Sequence[str]) -> None:
        """Compare one partition of both versions and add its figures."""
        joined = old.join(new, on=list(key_cols), how="full", coalesce=True, suffix="_to")
        joined = joined.with_columns(
            pl.col(_STATE).fill_null(ABSENT), pl.col(f"{_STATE}_to").fill_null(ABSENT)
        )
        masks = _masks()
        figures = joined.select(**{k: m.sum() for k, m in masks.items()}).row(0, named=True)
        self.figures.update({k: int(v or 0) for k, v in figures.items()})
        state_from, state_to = pl.col(_STATE), pl.col(f"{_STATE}_to")
        both = (state_from != ABSENT) & (state_to != ABSENT)
        moved = joined.filter(both & (state_from != state_to))
        for a, b, n in moved.group_by([_STATE, f"{_STATE}_to"]).len().iter_rows():
            self.transitions[f"{a}->{b}"] += n
        self.counts_from.update(frame_counts(old))
        self.counts_to.update(frame_counts(new))
        for name, mask in masks.items():
            if name == "unchanged":
                continue
            # The first keys of each partition include the first keys overall.
            head = joined.filter(mask).select(list(key_cols)).sort(list(key_cols)).head(SAMPLE)
            seen = self.samples.get(name)
            self.samples[name] = head if seen is None else pl.concat([seen, head])


def _masks() -> dict[str, pl.Expr]:
    state_from, state_to = pl.col(_STATE), pl.col(f"{_STATE}_to")
    both = (state_from != ABSENT) & (state_to != ABSENT)
    same_values = pl.col(_HASH) == pl.col(f"{_HASH}_to")
    return {
        "removed": state_to == ABSENT,
        "restored": state_from == ABSENT,
        "reappearing": (state_to == ACTIVE) & (state_from != ACTIVE),
        "value_changes": both & ~same_values,
        "unchanged": both & same_values & (state_from == state_to),
    }


def _pairs(
    now: DeltaTable,
    then: DeltaTable,
    key_cols: Sequence[str],
    shared: set[str],
    folder: Path,
    parts: int,
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Yield both versions' state frames, whole or one key partition at a time."""
    if parts == 1:
        yield _frame(now, key_cols, shared), _frame(then, key_cols, shared)
        return
    spills = []
    for name, delta in (("from", now), ("to", then)):
        spill = KeySpill(folder, name, key_cols, parts)
        for frame in _file_frames(delta, key_cols, shared):
            data = frame.to_arrow()
            spill.add(data)
        spill.close(data.schema)
        spills.append(spill)
    for part in range(parts):
        old, new = (pl.from_arrow(s.part(part), rechunk=False) for s in spills)
        assert isinstance(old, pl.DataFrame) and isinstance(new, pl.DataFrame)
        yield old, new


def frame_counts(frame: pl.DataFrame) -> dict[str, int]:
    """Return total, active, deleted and purged counts of a state frame."""
    counts = dict(frame.group_by(_STATE).len().iter_rows())
    total = frame.height
    return {
        "total": total,
        "active": counts.get(ACTIVE, 0),
        "deleted": counts.get(DELETED, 0),
        "purged": counts.get(PURGED, 0),
    }


def _open(store: BronzeStore, table: str, version: int) -> DeltaTable:
    delta = store.open(store.table_uri(table), version=version)
    if delta is None:
        raise BronzeError("no bronze table", table=table)
    return delta


def _value_columns(delta: DeltaTable, key_cols: Sequence[str]) -> set[str]:
    names = delta.to_pyarrow_dataset().schema.names
    missing = [k for k in key_cols if k not in names]
    if missing:
        raise BronzeError(f"version {delta.version()} has no key column(s) {missing}")
    return {n for n in names if n not in TRACKING_NAMES and n not in key_cols}


def _frame(delta: DeltaTable, key_cols: Sequence[str], values: set[str]) -> pl.DataFrame:
    """Return key columns, row state and value hash of one table version."""
    return pl.concat(list(_file_frames(delta, key_cols, values)), rechunk=False)


def _file_frames(
    delta: DeltaTable, key_cols: Sequence[str], values: set[str]
) -> Iterator[pl.DataFrame]:
    """Yield `_frame` of one table version a batch at a time (one empty frame when no rows).

    Only a batch of full rows (every value column) is in memory at once, never a file's.
    """
    dataset = delta.to_pyarrow_dataset()
    flags = [c for c in (IS_DELETED, IS_PURGED) if c in dataset.schema.names]
    columns = [*key_cols, *flags, *sorted(values)]
    ordered = sorted(values)
    found = False
    for fragment in dataset.get_fragments():
        batches = fragment.to_batches(
            columns=columns,
            schema=dataset.schema,
            batch_size=BATCH_ROWS,
            batch_readahead=0,
            fragment_scan_options=SCAN_OPTIONS,
        )
        for batch in batches:
            if batch.num_rows:
                found = True
                yield _state_frame(pa.Table.from_batches([batch]), key_cols, flags, ordered)
    if not found:
        yield _state_frame(dataset.schema.empty_table().select(columns), key_cols, flags, [])


def _state_frame(
    data: pa.Table, key_cols: Sequence[str], flags: list[str], ordered: list[str]
) -> pl.DataFrame:
    """Return key columns, row state and value hash of `data`'s rows."""
    frame = pl.from_arrow(data, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    if ordered:
        hashes = frame.select(ordered).hash_rows(seed=SEED)
    else:
        hashes = pl.Series(_HASH, [0] * frame.height, dtype=pl.UInt64)
    deleted = pl.col(IS_DELETED).fill_null(False) if IS_DELETED in flags else pl.lit(False)
    purged = pl.col(IS_PURGED).fill_null(False) if IS_PURGED in flags else pl.lit(False)
    state = pl.when(purged).then(pl.lit(PURGED)).when(deleted).then(pl.lit(DELETED))
    return frame.select(
        *key_cols, state.otherwise(pl.lit(ACTIVE)).alias(_STATE), hashes.alias(_HASH)
    )


def _sample(rows: pl.DataFrame, key_cols: Sequence[str], limit: int = SAMPLE) -> list[str]:
    """Return up to `limit` keys of `rows`, sorted, as text."""
    return format_keys(rows.select(list(key_cols)).sort(list(key_cols)).head(limit), key_cols)


def format_keys(keys: pl.DataFrame | pa.Table, key_cols: Sequence[str]) -> list[str]:
    """Return each key as text (composite keys joined with '|')."""
    frame = keys if isinstance(keys, pl.DataFrame) else pl.from_arrow(keys)
    assert isinstance(frame, pl.DataFrame)
    return ["|".join(str(v) for v in row) for row in frame.select(list(key_cols)).iter_rows()]
