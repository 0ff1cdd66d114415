"""Rebuild the history of a table synced before history existed, from its Delta log.

Only versions whose data files are all still there can be rebuilt: what VACUUM removed is
reported, never invented. The history then starts at the oldest rebuildable version and is
marked settled (nothing older can be recorded any more).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from deltalake import DeltaTable

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.errors import BronzeError
from bronze_sync.history.derive import derive_version, oldest_rebuildable
from bronze_sync.history.record import commit_infos, record_history
from bronze_sync.history.store import Coverage, append_versions, read_coverage, settle_coverage


@dataclass
class BackfillReport:
    """What a backfill rebuilt and what it could not."""

    table: str
    rebuilt: list[int] = field(default_factory=list)
    rows: int = 0
    lost: tuple[int, int] | None = None  # versions whose files or log entries are gone
    coverage: Coverage | None = None

    def describe(self) -> str:
        """Return one line for the command line."""
        done = (
            f"rebuilt versions {self.rebuilt[0]}..{self.rebuilt[-1]} ({self.rows:,} row(s))"
            if self.rebuilt
            else "nothing to rebuild"
        )
        lost = (
            f"; versions {self.lost[0]}..{self.lost[1]} cannot be rebuilt (their data files "
            "or log entries were removed by VACUUM or log retention)"
            if self.lost
            else ""
        )
        held = f"; history holds {self.coverage.describe()}" if self.coverage else ""
        return f"{self.table}: {done}{lost}{held}"


def backfill_history(store: BronzeStore, table: str, keys: Sequence[str]) -> BackfillReport:
    """Rebuild every missing history version of `table` that its Delta log still allows."""
    report = BackfillReport(table)
    uri = store.table_uri(table)
    bronze = store.open(uri)
    if bronze is None:
        raise BronzeError(f"no bronze table at {uri}: nothing to backfill", table=table)
    latest = bronze.version()
    coverage = read_coverage(store, table)
    if coverage is not None and coverage.through < latest:
        record_history(store, table, keys, latest, reason="backfill")
        coverage = read_coverage(store, table)
    end = coverage.first - 1 if coverage is not None else latest
    if coverage is not None and (coverage.settled or end < 0):
        report.coverage = coverage
        return report
    start = oldest_rebuildable(uri, store.options(), end)
    if start > 0:
        report.lost = (0, start - 1)
    through = coverage.through if coverage is not None else latest
    if start <= end:
        infos = commit_infos(DeltaTable(uri, storage_options=store.options()), start)
        changes = [
            derive_version(uri, store.options(), keys, v, infos[v]) for v in range(start, end + 1)
        ]
        counts = append_versions(
            store, table, keys, changes, Coverage(start, through, settled=True), "backfill"
        )
        report.rebuilt, report.rows = list(range(start, end + 1)), sum(counts.values())
    elif coverage is not None:
        settle_coverage(store, table, Coverage(coverage.first, coverage.through, settled=True))
    report.coverage = read_coverage(store, table)
    return report
