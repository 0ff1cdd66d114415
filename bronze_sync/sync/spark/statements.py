"""The Spark SQL of one sync: candidates, vanished keys and the one MERGE (ARCHITECTURE §4).

Views the statements read: `bronze` (the pinned version), `rows` (extracted), `fetched`
(rows read back by key), `source_keys` (every current source key). Every identifier comes
from the validated configuration or bronze's schema and is quoted here.
"""

# ruff: noqa: S608  # identifiers are validated by the config and quoted by statements.q

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from bronze_sync.bronze.tracking import (
    DELETED_DATE,
    IS_DELETED,
    IS_PURGED,
    LAST_SYNCED,
    PURGED_DATE,
    SYNC_OPERATION,
    SyncOp,
)
from bronze_sync.sync.changes import RETAINED
from bronze_sync.sync.spark.stamp import HASH, SparkStamp

# What a candidate row does (`_act`); the first three are written.
INSERT, UPDATE, UNDELETE = SyncOp.INSERT.value, SyncOp.UPDATE.value, SyncOp.UNDELETE.value
UNMODIFIED, STALE, UNCHANGED = "UNMODIFIED", "STALE", "UNCHANGED"
DELETE, PURGE = SyncOp.DELETE.value, SyncOp.PURGE.value
ACTIVE = f"NOT coalesce(b.{IS_DELETED}, false) AND NOT coalesce(b.{IS_PURGED}, false)"


def q(name: str) -> str:
    """Quote an identifier for Spark SQL."""
    return "`" + name.replace("`", "``") + "`"


def ts(value: dt.datetime) -> str:
    """Return a UTC timestamp literal (the session's time zone is UTC)."""
    utc = value.astimezone(dt.UTC).replace(tzinfo=None)
    return f"CAST('{utc.isoformat(sep=' ', timespec='microseconds')}' AS TIMESTAMP)"


def joined(keys: Sequence[str], left: str, right: str) -> str:
    """Return the equi-join condition of two aliases on the key columns."""
    return " AND ".join(f"{left}.{q(k)} = {right}.{q(k)}" for k in keys)


@dataclass(frozen=True)
class SyncSql:
    """The statements of one table's sync."""

    keys: tuple[str, ...]
    data: tuple[str, ...]  # the source columns written (bronze types)
    modified: str | None
    created: str | None
    trust_modified: bool
    skip_older: bool
    track_deletes: bool
    # Bronze's long-term-retention column (Dataverse msft_datastate): a vanished row bronze or
    # this extraction saw moved to retention is a PURGE, as sync.changes.retained_keys says.
    retained: str | None = None
    # The table's metadata columns (None: it keeps none).
    stamp: SparkStamp | None = None

    @property
    def carried(self) -> str:
        """Return the staged columns candidates carry besides the data (`, hash` or '')."""
        return f", {HASH}" if self.stamp is not None and self.stamp.hashes else ""

    def to_fetch(self) -> str:
        """Return keys to read back: late inserts, and flagged rows back in the source."""
        cols = ", ".join(f"k.{q(c)}" for c in self.keys)
        late = (
            f"SELECT {cols} FROM source_keys k "
            f"LEFT ANTI JOIN bronze b ON {joined(self.keys, 'k', 'b')}"
            f" LEFT ANTI JOIN rows s ON {joined(self.keys, 'k', 's')}"
        )
        back_cols = ", ".join(f"b.{q(c)}" for c in self.keys)
        back = (
            f"SELECT {back_cols} FROM bronze b LEFT SEMI JOIN source_keys k ON "
            f"{joined(self.keys, 'b', 'k')} LEFT ANTI JOIN rows s ON {joined(self.keys, 'b', 's')}"
            f" WHERE NOT ({ACTIVE})"
        )
        return f"{late} UNION ALL {back}"

    def candidates(self, with_keys: bool) -> str:
        """Return the extracted and fetched rows, each with what the sync does to it."""
        cols = ", ".join(q(c) for c in self.data) + self.carried
        rows = f"SELECT {cols}, false AS _late FROM rows"
        if with_keys:  # the key scan ran after extraction: a row it no longer sees is gone
            on = joined(self.keys, "r", "k")
            rows = f"SELECT {cols}, false AS _late FROM rows r LEFT SEMI JOIN source_keys k ON {on}"
        source = f"{rows} UNION ALL SELECT {cols}, true AS _late FROM fetched"
        first = q(self.keys[0])
        return (
            f"SELECT s.*, CASE WHEN b.{first} IS NULL THEN '{INSERT}' "
            f"WHEN NOT ({ACTIVE}) THEN '{UNDELETE}' "
            f"WHEN {self._same()} THEN '{UNMODIFIED}' WHEN {self._older()} THEN '{STALE}' "
            f"WHEN {self._differ()} THEN '{UPDATE}' ELSE '{UNCHANGED}' END AS _act "
            f"FROM ({source}) s LEFT JOIN bronze b ON {joined(self.keys, 's', 'b')}"
        )

    def _same(self) -> str:
        if not (self.trust_modified and self.modified):
            return "false"
        m = q(self.modified)
        return f"coalesce(s.{m} = b.{m}, false)"

    def _older(self) -> str:
        if not (self.skip_older and self.modified):
            return "false"
        m = q(self.modified)
        return f"coalesce(s.{m} < b.{m}, false)"

    def _differ(self) -> str:
        # NULL <=> NULL is true; Spark's NaN = NaN is true too, as rows.values.rows_differ holds.
        tests = [f"NOT (s.{q(c)} <=> b.{q(c)})" for c in self.data]
        return "(" + " OR ".join(tests) + ")" if tests else "false"

    def vanished(self, purge_before: dt.datetime | None, removed: str | None = None) -> str:
        """Return bronze's active rows the source lost, each with DELETE or PURGE.

        Lost means missing from view `source_keys`, or, from a change feed, named in view
        `removed` and not extracted again (deleted, then created anew).
        """
        cols = ", ".join(f"b.{q(c)}" for c in self.data)
        purge, retained = [], ""
        if purge_before is not None and self.created:
            purge.append(
                f"coalesce(CAST(b.{q(self.created)} AS TIMESTAMP) < {ts(purge_before)}, false)"
            )
        if self.retained:
            column = q(self.retained)
            purge.append(f"coalesce(b.{column} = {RETAINED}, false)")
            if self.retained in self.data:
                keys = ", ".join(q(k) for k in self.keys)
                retained = (
                    f" LEFT JOIN (SELECT DISTINCT {keys} FROM rows WHERE {column} = {RETAINED}) r"
                    f" ON {joined(self.keys, 'b', 'r')}"
                )
                purge.append(f"r.{q(self.keys[0])} IS NOT NULL")
        verdict = " OR ".join(purge) or "false"
        return (
            f"SELECT {cols}, CASE WHEN {verdict} THEN '{PURGE}' ELSE '{DELETE}' END AS _act "
            f"FROM bronze b {self._lost(removed)}{retained} WHERE {ACTIVE}"
        )

    def _lost(self, removed: str | None) -> str:
        if removed is None:
            return f"LEFT ANTI JOIN source_keys k ON {joined(self.keys, 'b', 'k')}"
        return (
            f"LEFT SEMI JOIN {removed} k ON {joined(self.keys, 'b', 'k')} "
            f"LEFT ANTI JOIN rows s ON {joined(self.keys, 'b', 's')}"
        )

    def edits(self, with_vanished: bool) -> str:
        """Return the rows the MERGE writes (from views `candidates` and `vanished`)."""
        cols = ", ".join(q(c) for c in self.data)
        acts = f"'{INSERT}', '{UPDATE}', '{UNDELETE}'"
        carried = self.carried
        written = f"SELECT {cols}{carried}, _act FROM candidates WHERE _act IN ({acts})"
        if with_vanished:  # a flagged row keeps its stored hash
            kept = f", CAST(NULL AS STRING) AS {HASH}" if carried else ""
            written += f" UNION ALL SELECT {cols}{kept}, _act FROM vanished"
        return written

    def merge(self, target: str, now: dt.datetime) -> str:
        """Return the one MERGE that writes the edits into bronze."""
        when = ts(now)
        return (
            f"MERGE INTO delta.{q(target)} t USING edits u ON {joined(self.keys, 't', 'u')} "
            f"WHEN MATCHED AND u._act IN ('{UPDATE}', '{UNDELETE}') "
            f"THEN UPDATE SET {self._live_set(when)} "
            f"WHEN MATCHED AND u._act = '{DELETE}' "
            f"THEN UPDATE SET {self._flag_set(DELETE, IS_DELETED, DELETED_DATE, when)} "
            f"WHEN MATCHED AND u._act = '{PURGE}' "
            f"THEN UPDATE SET {self._flag_set(PURGE, IS_PURGED, PURGED_DATE, when)} "
            f"WHEN NOT MATCHED AND u._act = '{INSERT}' THEN {self._insert(when)}"
        )

    def _live_set(self, when: str) -> str:
        """Return the SET of an updated or undeleted row: its values, live tracking, stamp."""
        sets = [f"t.{q(c)} = u.{q(c)}" for c in self.data if c not in self.keys]
        sets += [
            f"t.{IS_DELETED} = false",
            f"t.{IS_PURGED} = false",
            f"t.{DELETED_DATE} = NULL",
            f"t.{PURGED_DATE} = NULL",
            f"t.{LAST_SYNCED} = {when}",
            f"t.{SYNC_OPERATION} = u._act",
        ]
        if self.stamp is not None:
            sets += self.stamp.updates("t", when, f"u.{HASH}" if self.stamp.hashes else None)
        return ", ".join(sets)

    def _flag_set(self, act: str, flag: str, date: str, when: str) -> str:
        """Return the SET of a deleted or purged row (its values and hash kept)."""
        sets = [
            f"t.{flag} = true",
            f"t.{date} = {when}",
            f"t.{LAST_SYNCED} = {when}",
            f"t.{SYNC_OPERATION} = '{act}'",
        ]
        if self.stamp is not None:
            sets += self.stamp.updates("t", when, None)
        return ", ".join(sets)

    def _insert(self, when: str) -> str:
        """Return the INSERT of a new row: its values, live tracking, stamp."""
        columns = [*self.data, IS_DELETED, IS_PURGED, DELETED_DATE, PURGED_DATE]
        values = [*(f"u.{q(c)}" for c in self.data), "false", "false", "NULL", "NULL"]
        columns += [LAST_SYNCED, SYNC_OPERATION]
        values += [when, "u._act"]
        if self.stamp is not None:
            stamped = self.stamp.values(when, f"u.{HASH}")
            columns, values = [*columns, *stamped], [*values, *stamped.values()]
        return f"INSERT ({', '.join(q(c) for c in columns)}) VALUES ({', '.join(values)})"
