"""Zero-tolerance checks of a restored table: counts, keys and tracking flags."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pds

from bronze_sync.alerts import Alert, Severity
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.bronze.tracking import DELETED_DATE, IS_DELETED, IS_PURGED, PURGED_DATE
from bronze_sync.metadata import RunInfo, ValidationRecord
from bronze_sync.rows.keys import duplicate_keys
from bronze_sync.rows.keyset import key_hashes
from bronze_sync.rows.values import frame

CONTEXT = "PostRollback"
BATCH_ROWS = 262_144
FIGURES = ("total", "deleted", "purged", "both", "null_keys", "undated_deletes", "undated_purges")


@dataclass(frozen=True)
class PostCheck:
    """The verdict on one restored table."""

    table: str
    version: int
    counts: dict[str, int]
    expected: dict[str, int]
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Return True when no check failed."""
        return not self.problems

    def record(self, checkpoint_name: str) -> ValidationRecord:
        """Return the DataValidation record of this check."""
        notes = f"rollback to {checkpoint_name} (v{self.version}): " + (
            "; ".join(self.problems) if self.problems else "counts, keys and flags verified"
        )
        return ValidationRecord(
            table=self.table,
            context=CONTEXT,
            passed=self.passed,
            total=self.counts["total"],
            active=self.counts["active"],
            deleted=self.counts["deleted"],
            purged=self.counts["purged"],
            notes=notes,
        )


def check_restored(
    store: BronzeStore,
    table: str,
    version: int,
    key_cols: Sequence[str],
    expected: dict[str, int],
) -> PostCheck:
    """Check version `version` of `table` against the counts recorded for its checkpoint."""
    delta = store.open(store.table_uri(table), version=version)
    if delta is None:
        return PostCheck(table, version, _zero(), expected, ("the bronze table is gone",))
    dataset = delta.to_pyarrow_dataset()
    names = dataset.schema.names
    tracking = [c for c in (IS_DELETED, IS_PURGED, DELETED_DATE, PURGED_DATE) if c in names]
    figures: Counter[str] = Counter(dict.fromkeys(FIGURES, 0))
    hashes = []
    # A batch at a time: the figures add up, and only each key's 64-bit hash is kept.
    for batch in _batches(dataset, [*key_cols, *tracking]):
        rows = frame(batch)
        found = rows.select(
            total=pl.len(),
            deleted=_flag(names, IS_DELETED).sum(),
            purged=_flag(names, IS_PURGED).sum(),
            both=(_flag(names, IS_DELETED) & _flag(names, IS_PURGED)).sum(),
            null_keys=pl.any_horizontal([pl.col(k).is_null() for k in key_cols]).sum(),
            undated_deletes=(_flag(names, IS_DELETED) & _missing(names, DELETED_DATE)).sum(),
            undated_purges=(_flag(names, IS_PURGED) & _missing(names, PURGED_DATE)).sum(),
        ).row(0, named=True)
        figures.update({k: int(v or 0) for k, v in found.items()})
        hashes.append(key_hashes(batch, key_cols))
    duplicates = _duplicates(dataset, key_cols, hashes)
    counts = {
        "total": figures["total"],
        "active": figures["total"] - figures["deleted"] - figures["purged"] + figures["both"],
        "deleted": figures["deleted"],
        "purged": figures["purged"],
    }
    problems = _count_problems(counts, expected)
    if counts["active"] + counts["deleted"] + counts["purged"] != counts["total"]:
        problems.append(
            f"total {counts['total']:,} != active + deleted + purged "
            f"({counts['active']:,} + {counts['deleted']:,} + {counts['purged']:,})"
        )
    labels = {
        "both": "row(s) both IsDeleted and IsPurged",
        "null_keys": "row(s) with a null key",
        "undated_deletes": f"IsDeleted row(s) without {DELETED_DATE}",
        "undated_purges": f"IsPurged row(s) without {PURGED_DATE}",
    }
    problems += [f"{figures[k]:,} {text}" for k, text in labels.items() if figures[k]]
    if duplicates:
        problems.append(f"{duplicates:,} duplicate key(s)")
    return PostCheck(table, version, counts, expected, tuple(problems))


def _batches(dataset: pds.Dataset, columns: list[str]) -> Iterator[pa.Table]:
    """Yield the dataset's `columns` a batch at a time (little read-ahead)."""
    for batch in dataset.to_batches(
        columns=columns, batch_size=BATCH_ROWS, batch_readahead=1, fragment_readahead=1
    ):
        yield pa.Table.from_batches([batch])


def _duplicates(dataset: pds.Dataset, key_cols: Sequence[str], hashes: list[np.ndarray]) -> int:
    """Return how many rows repeat a key, given every row's key hash.

    Only keys whose hash repeats can repeat; those are read again and counted exactly.
    """
    ordered = np.sort(np.concatenate(hashes)) if hashes else np.empty(0, np.uint64)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    if not len(repeated):
        return 0
    candidates = [
        keys.filter(pa.array(np.isin(key_hashes(keys, key_cols), repeated)))
        for keys in _batches(dataset, list(key_cols))
    ]
    counted = duplicate_keys(pa.concat_tables(candidates), key_cols)
    return sum(n - 1 for n in counted.column("count_all").to_pylist()) if counted.num_rows else 0


def failure_alert(failed: list[PostCheck], checkpoint_name: str, run: RunInfo) -> Alert:
    """Return the CRITICAL alert for restored tables that failed validation."""
    lines = [f"- {c.table} (v{c.version}): {'; '.join(c.problems)}" for c in failed]
    return Alert(
        severity=Severity.CRITICAL,
        subject=f"Post-rollback validation failed for {len(failed)} table(s)",
        body="\n".join(
            [
                f"Rollback to {checkpoint_name}:",
                *lines,
                "",
                "Do not let the next sync run before the tables are checked; the PostRollback "
                "checkpoint (if taken) and the Pre snapshots in RollbackStateSnapshots show "
                "the state before and after.",
            ]
        ),
        job=run.pipeline_name,
        run_id=run.run_id,
        tables=tuple(c.table for c in failed),
        error_class="PostRollbackValidation",
    )


def _count_problems(counts: dict[str, int], expected: dict[str, int]) -> list[str]:
    return [
        f"{name} rows {counts[name]:,} != {expected[name]:,} recorded for the checkpoint"
        for name in ("total", "active", "deleted", "purged")
        if counts[name] != expected.get(name)
    ]


def _flag(names: list[str], column: str) -> pl.Expr:
    return pl.col(column).fill_null(False) if column in names else pl.lit(False)


def _missing(names: list[str], column: str) -> pl.Expr:
    return pl.col(column).is_null() if column in names else pl.lit(True)


def _zero() -> dict[str, int]:
    return {"total": 0, "active": 0, "deleted": 0, "purged": 0}
