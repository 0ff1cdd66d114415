"""New and returning source columns on the cluster: filled for every row, in the one MERGE.

Native fills a new column by rewriting every file (bronze.rewrite_rows.fill). Here the step
streams each source row's key and new values into the lake (set `fill`), view `bronze`
becomes the stored rows with those values (and `_filled`: the fill changed the row), and the
MERGE writes whole row images with `WITH SCHEMA EVOLUTION` and `UPDATE SET *`/`INSERT *`,
the one form Databricks, Delta Spark 4 and Sail all accept for adding columns.
"""

# ruff: noqa: S608  # identifiers are validated by the config and quoted by statements.q

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from bronze_sync.bronze.schema import SchemaPlan
from bronze_sync.bronze.tracking import TRACKING_FIELDS
from bronze_sync.config.models import TableConfig
from bronze_sync.sync.job import PhaseTimer, SyncJob
from bronze_sync.sync.spark import statements as st
from bronze_sync.sync.spark.checks import refuse_repeats
from bronze_sync.sync.spark.lake_staging import LakeStaging
from bronze_sync.sync.spark.tally import check_null_keys

FILLED = "_filled"  # the fill changed the row (it is written: values, LastSynced, UPDATE)
TRACKING = tuple(f.name for f in TRACKING_FIELDS)  # their order in every bronze table


@dataclass(frozen=True)
class Evolution:
    """The columns one spark sync adds to bronze or reads afresh for every row."""

    keys: tuple[str, ...]
    stored: tuple[str, ...]  # bronze's data columns before this sync
    added: tuple[str, ...]
    readded: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """Return the columns every source row's value is read for."""
        return (*self.added, *self.readded)

    def filled_bronze(self, fill: str) -> str:
        """Return view `bronze_stored` with the columns from `fill` and a `_filled` flag."""
        k = self.keys[0]
        found = f"f.{st.q(k)} IS NOT NULL"
        data = [
            f"CASE WHEN {found} THEN f.{st.q(c)} ELSE b.{st.q(c)} END AS {st.q(c)}"
            if c in self.readded
            else f"b.{st.q(c)}"
            for c in self.stored
        ]
        data += [f"f.{st.q(c)} AS {st.q(c)}" for c in self.added]
        changed = [f"NOT (f.{st.q(c)} <=> b.{st.q(c)})" for c in self.readded]
        changed += [f"f.{st.q(c)} IS NOT NULL" for c in self.added]
        tracking = [f"b.{c}" for c in TRACKING]
        flag = f"({found} AND ({' OR '.join(changed)})) AS {FILLED}"
        return (
            f"SELECT {', '.join([*data, *tracking, flag])} FROM bronze_stored b "
            f"LEFT JOIN {fill} f ON {st.joined(self.keys, 'b', 'f')}"
        )

    def no_fill(self) -> str:
        """Return an empty fill of the right types (the extraction holds every row)."""
        columns = ", ".join(st.q(c) for c in [*self.keys, *self.columns])
        return f"(SELECT {columns} FROM rows WHERE false)"

    def images(self, data: Sequence[str], when: str, with_vanished: bool) -> str:
        """Return every row the MERGE writes as its whole new image (view `edits`)."""
        cols = ", ".join(st.q(c) for c in data)
        null = "CAST(NULL AS TIMESTAMP)"
        written = f"'{st.INSERT}', '{st.UPDATE}', '{st.UNDELETE}'"
        parts = [
            f"SELECT {cols}, {_tracking('false', 'false', null, null, when, '_act')} "
            f"FROM candidates WHERE _act IN ({written})"
        ]
        if with_vanished:
            deleted, purged = f"_act = '{st.DELETE}'", f"_act = '{st.PURGE}'"
            dates = f"IF({deleted}, {when}, {null})", f"IF({purged}, {when}, {null})"
            parts.append(
                f"SELECT {cols}, {_tracking(deleted, purged, *dates, when, '_act')} FROM vanished"
            )
        kept = [f"b.{c}" for c in TRACKING[:4]]
        parts.append(
            f"SELECT {', '.join(f'b.{st.q(c)}' for c in data)}, "
            f"{_tracking(*kept, when, repr(st.UPDATE))} FROM bronze b "
            f"LEFT ANTI JOIN (SELECT * FROM candidates WHERE _act IN ({written})) c "
            f"ON {st.joined(self.keys, 'b', 'c')} WHERE b.{FILLED}"
        )
        return " UNION ALL ".join(parts)

    def merge(self, target: str) -> str:
        """Return the MERGE writing view `edits` (whole images), adding the new columns."""
        return (
            f"MERGE WITH SCHEMA EVOLUTION INTO delta.{st.q(target)} t USING edits u "
            f"ON {st.joined(self.keys, 't', 'u')} "
            "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        )


def _tracking(*values: str) -> str:
    """Return the tracking columns' values, named."""
    return ", ".join(f"{v} AS {name}" for v, name in zip(values, TRACKING, strict=True))


def evolution(table: TableConfig, plan: SchemaPlan) -> Evolution | None:
    """Return the columns this sync fills on the cluster (None: no column to fill)."""
    if not plan.fill_columns:
        return None
    added = tuple(f.name for f in plan.added)
    return Evolution(
        keys=tuple(table.primary_key),
        stored=tuple(f.name for f in plan.target if f.name not in added),
        added=added,
        readded=tuple(plan.readded),
    )


def stage_fill(
    job: SyncJob,
    table: TableConfig,
    schema: pa.Schema,
    evolving: Evolution,
    spark: Any,
    staging: LakeStaging,
) -> None:
    """Stage the key and the filled columns of every source row (view `fill`)."""
    fill_schema = pa.schema([schema.field(n) for n in [*evolving.keys, *evolving.columns]])
    job.progress(table.name, "extract", f"reading {', '.join(evolving.columns)} of every row")
    staging.stage("fill", job.source.read_columns(table, fill_schema), fill_schema)
    spark.read.parquet(staging.location("fill")).createOrReplaceTempView("fill")
    keys = list(evolving.keys)
    check_null_keys(spark, "fill", keys, table.name, "new column read")
    refuse_repeats(spark, "fill", keys, table.name, "new column read")


def filled_count(spark: Any) -> int:
    """Return how many bronze rows the fill changes (native's `filled`)."""
    return int(spark.sql(f"SELECT count_if({FILLED}) FROM bronze").collect()[0][0])


def fill_bronze(
    job: SyncJob,
    table: TableConfig,
    schema: pa.Schema,
    evolving: Evolution,
    spark: Any,
    staging: LakeStaging,
    since: dt.datetime | None,
    timer: PhaseTimer,
    sql: st.SyncSql,
) -> st.SyncSql:
    """Make view `bronze` hold every row's new column values; return the diff's statements."""
    with timer("extract"):
        if since is None:  # every row was extracted: their values are compared, not trusted
            fill = evolving.no_fill()
            sql = dataclasses.replace(sql, trust_modified=False)
        else:
            stage_fill(job, table, schema, evolving, spark, staging)
            fill = "fill"
    spark.sql(evolving.filled_bronze(fill)).createOrReplaceTempView("bronze")
    return sql
