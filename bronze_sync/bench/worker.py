"""Run one benchmark phase of one tool in this process and print its figures as JSON.

Each phase runs in a fresh subprocess so that its peak RSS is its own.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time
from dataclasses import dataclass
from typing import Any

# bronze_sync with `engine: spark`, syncing on the Spark Connect server at spark_remote.
SPARK_TOOL = "bronze_sync[spark]"
TOOLS = {
    "bronze_sync": "bronze_sync.bench.tool_bronze",
    SPARK_TOOL: "bronze_sync.bench.tool_bronze",
    "dlt": "bronze_sync.bench.tool_dlt",
    "notebook": "bronze_sync.bench.tool_notebook",
}


@dataclass(frozen=True)
class PhaseRequest:
    """What the parent asks a worker to do."""

    tool: str
    phase: str
    pg_url: str
    source: str
    workdir: str
    # bronze_sync plans its memory by this budget (the cage's limit when one is set).
    memory_budget_mb: int | None = None
    # sc://host:port of the Spark Connect server bronze_sync[spark] syncs on.
    spark_remote: str | None = None


def main(argv: list[str]) -> None:
    """Run the phase described by the JSON argument; print one JSON line of figures."""
    request = PhaseRequest(**json.loads(argv[0]))
    module = importlib.import_module(TOOLS[request.tool])
    started = time.perf_counter()
    details: dict[str, Any] = module.run_phase(request)
    # A tool may measure a reference after its phase (bronze_sync's commit floor): neither its
    # seconds nor its memory belong to the phase.
    seconds = time.perf_counter() - started - details.pop("untimed_seconds", 0.0)
    peak_mb = details.pop("peak_mb", None) or peak_rss_mb()
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, **details}, default=str))


def peak_rss_mb() -> float:
    """Return this process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main(sys.argv[1:])
