"""Which engine syncs a table: bronze_sync's own (`native`) or a Spark cluster (`spark`)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from bronze_sync.config.connections import StrictModel

Engine = Literal["native", "spark"]
NATIVE: Engine = "native"
SPARK: Engine = "spark"
# sc://host:port/;param=value;... (the Spark Connect connection string).
_REMOTE = re.compile(r"^sc://(?P<host>[^/:;]+)(:(?P<port>\d{1,5}))?/?(;.*)?$")


class SparkSettings(StrictModel):
    """Where the spark engine sends its plans (docs/spark-engine.md)."""

    # sc://host:port/;token=${TOKEN} (Databricks Connect, Spark 4 Connect, Sail).
    remote: str = Field(min_length=1)
    # Spark SQL session settings applied before the sync (e.g. shuffle partitions).
    options: dict[str, str] = Field(default_factory=dict)
    # Seconds to wait for the cluster's first answer before the sync fails.
    connect_timeout_seconds: float = Field(30.0, gt=0)

    @field_validator("remote")
    @classmethod
    def _remote(cls, value: str) -> str:
        if not _REMOTE.match(value):
            raise ValueError(
                f"remote {endpoint(value)!r} is not a Spark Connect address "
                "(sc://host:port/;token=...)"
            )
        return value

    @property
    def endpoint(self) -> str:
        """Return host:port of the remote, never its token or other parameters."""
        return endpoint(self.remote)


def endpoint(remote: str) -> str:
    """Return `remote` without its parameters (a token must never reach a log)."""
    return remote.split(";", 1)[0].rstrip("/")


def engine_problems(settings: Any) -> list[str]:
    """Return what a table's engine settings lack or cannot do yet."""
    if settings.engine != SPARK:
        return []
    problems = []
    if settings.spark is None:
        problems.append("engine spark needs a spark block (spark: {remote: sc://host:port})")
    if settings.kind != "merged":
        problems.append(f"engine spark syncs kind merged tables only, not {settings.kind}")
    return problems
