"""Checks a spark sync asks the cluster for: repeated keys, table features, flag counts."""

# ruff: noqa: S608  # identifiers are validated by the config and quoted by statements.q

from __future__ import annotations

from typing import Any

from deltalake import DeltaTable

from bronze_sync.config.models import TableConfig
from bronze_sync.errors import SparkEngineError
from bronze_sync.rows.keys import refuse_duplicates
from bronze_sync.sync.spark import statements as st
from bronze_sync.sync.spark.session import lacks_delta


def refuse_repeats(spark: Any, view: str, keys: list[str], table: str, what: str) -> None:
    """Raise SourceDataError naming keys that occur more than once in `view`."""
    cols = ", ".join(st.q(k) for k in keys)
    repeated = spark.sql(
        f"SELECT {cols} FROM {view} GROUP BY {cols} HAVING count(*) > 1 LIMIT 5"
    ).toArrow()
    refuse_duplicates(repeated, keys, table, what)


def require_delta(spark: Any, uri: str) -> None:
    """Fail before any work when the cluster has no Delta Lake data source."""
    try:
        spark.read.format("delta").load(uri).schema  # noqa: B018  # asks the cluster to resolve it
    except Exception as exc:  # the client raises Spark errors of many classes
        if lacks_delta(str(exc)):
            raise
        # A cluster with Delta reports that no table is there yet, as before any first load.


def check_protocol(delta: DeltaTable, table: TableConfig) -> None:
    """Refuse a table the cluster upgraded to features deltalake cannot read or write."""
    protocol = delta.protocol()
    features = set(protocol.reader_features or []) | set(protocol.writer_features or [])
    unsupported = features & {"deletionVectors", "columnMapping", "v2Checkpoint"}
    if protocol.min_reader_version > 3 or unsupported:
        raise SparkEngineError(
            f"the cluster wrote table features {sorted(unsupported) or protocol} that rollback "
            "and maintenance (deltalake) cannot rewrite; turn them off on the cluster",
            table=table.name,
        )


def flag_counts(spark: Any, uri: str, version: int) -> dict[str, int]:
    """Return total, active, deleted and purged counts of bronze at `version` (on the cluster)."""
    row = spark.sql(
        f"SELECT count(*) AS total, count_if(coalesce({st.IS_DELETED}, false)) AS deleted, "
        f"count_if(coalesce({st.IS_PURGED}, false)) AS purged "
        f"FROM delta.{st.q(uri)} VERSION AS OF {int(version)}"
    ).collect()[0]
    total, deleted, purged = int(row[0]), int(row[1]), int(row[2])
    return {
        "total": total,
        "active": total - deleted - purged,
        "deleted": deleted,
        "purged": purged,
    }
