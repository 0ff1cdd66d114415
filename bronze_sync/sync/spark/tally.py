"""Count on the cluster what a spark-engine sync will write, before it writes anything."""

# ruff: noqa: S608  # identifiers are validated by the config and quoted by statements.q

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bronze_sync.errors import SourceDataError
from bronze_sync.sync.spark import statements as st


@dataclass(frozen=True)
class SparkTally:
    """What the candidates and vanished rows of one sync amount to."""

    inserted: int = 0
    late_inserts: int = 0
    updated: int = 0
    undeleted: int = 0
    unmodified: int = 0
    stale: int = 0
    unchanged: int = 0
    deleted: int = 0
    purged: int = 0
    active_before: int = 0

    @property
    def written(self) -> int:
        """Return how many bronze rows the MERGE changes."""
        return self.inserted + self.updated + self.undeleted + self.deleted + self.purged


def tally(spark: Any, with_vanished: bool) -> SparkTally:
    """Return the counts of views `candidates` (and `vanished`) and bronze's active rows."""
    acts: dict[str, int] = {}
    late = 0
    for act, is_late, n in spark.sql(
        "SELECT _act, _late, count(*) FROM candidates GROUP BY _act, _late"
    ).collect():
        acts[act] = acts.get(act, 0) + int(n)
        late += int(n) if is_late and act == st.INSERT else 0
    if with_vanished:
        for act, n in spark.sql("SELECT _act, count(*) FROM vanished GROUP BY _act").collect():
            acts[act] = acts.get(act, 0) + int(n)
    active = spark.sql(f"SELECT count(*) FROM bronze b WHERE {st.ACTIVE}").collect()[0][0]
    return SparkTally(
        inserted=acts.get(st.INSERT, 0),
        late_inserts=late,
        updated=acts.get(st.UPDATE, 0),
        undeleted=acts.get(st.UNDELETE, 0),
        unmodified=acts.get(st.UNMODIFIED, 0),
        stale=acts.get(st.STALE, 0),
        unchanged=acts.get(st.UNCHANGED, 0),
        deleted=acts.get(st.DELETE, 0),
        purged=acts.get(st.PURGE, 0),
        active_before=int(active),
    )


def check_null_keys(spark: Any, view: str, keys: Sequence[str], table: str, what: str) -> None:
    """Raise SourceDataError when a key column of `view` holds nulls."""
    counts = ", ".join(f"count_if({st.q(k)} IS NULL)" for k in keys)
    found = spark.sql(f"SELECT {counts} FROM {view}").collect()[0]
    for key, nulls in zip(keys, found, strict=True):
        if nulls:
            raise SourceDataError(
                f"{nulls} {what} row(s) have a null primary key in column {key!r}; "
                "nothing was written",
                table=table,
            )
