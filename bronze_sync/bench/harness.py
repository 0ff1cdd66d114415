"""Run every tool through initial → daily → no-op syncs and collect figures per phase."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bronze_sync.bench import pg_source
from bronze_sync.bench.memlimit import MemoryCage
from bronze_sync.bench.sail import SailServer
from bronze_sync.bench.worker import SPARK_TOOL, PhaseRequest

PHASES = ("initial", "daily", "noop", "daily_recent")
# The source change each sync phase starts from (none: the no-op and the initial load).
CHANGES = {
    "daily": pg_source.apply_daily_changes,
    "daily_recent": pg_source.apply_recent_changes,
}
# Only bronze_sync has checkpoints to roll back to and a checkpoint-safe VACUUM (on a table
# the spark engine wrote too: both run through deltalake on any bronze table).
EXTRA_PHASES = {"bronze_sync": ("rollback", "vacuum"), SPARK_TOOL: ("rollback", "vacuum")}
Report = Callable[[str], None]


def run_tool(
    tool: str,
    rows: int,
    pg_url: str,
    workdir: Path,
    report: Report,
    memory_limit_mb: int | None = None,
    server: SailServer | None = None,
) -> list[dict[str, Any]]:
    """Run one tool's phases on a fresh copy of the source; return one row per phase.

    bronze_sync[spark] syncs on `server` (its figures add the server's CPU and memory).
    """
    if tool == SPARK_TOOL and server is None:
        raise ValueError(f"{SPARK_TOOL} needs a Spark Connect server")
    remote = server.remote if server and tool == SPARK_TOOL else None
    engine = sa.create_engine(pg_url)
    source = pg_source.fresh_copy(engine, tool)
    folder = workdir / pg_source.slug(tool)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    results = []
    try:
        for phase in PHASES + EXTRA_PHASES.get(tool, ()):
            changes = None
            if phase in CHANGES:
                changes = CHANGES[phase](engine, tool, rows)
                report(f"{tool}: source changed for {phase} ({asdict(changes)})")
            request = PhaseRequest(
                tool, phase, pg_url, source, str(folder), memory_limit_mb, remote
            )
            if not pg_source.settle(engine) and phase == PHASES[0]:
                report("CHECKPOINT not allowed: phases may pay for the writes before them")
            figures = _measured(request, memory_limit_mb, server if remote else None)
            figures.update({"tool": tool, "phase": phase, "rows": rows})
            if changes is not None:
                figures["changes"] = asdict(changes)
            results.append(figures)
            if figures.get("oom_killed"):
                report(f"{tool} {phase}: killed for memory above {memory_limit_mb} MB")
                break
            report(f"{tool} {phase}: {figures['seconds']:.2f} s, peak {figures['peak_mb']:.0f} MB")
    finally:
        pg_source.drop_copy(engine, tool)
        engine.dispose()
    return results


def _measured(
    request: PhaseRequest, memory_limit_mb: int | None, server: SailServer | None
) -> dict[str, Any]:
    """Run a phase; with a server, add what the server used meanwhile (CPU s, peak MB)."""
    if server is None:
        return run_phase_subprocess(request, memory_limit_mb)
    server.reset_peak()
    before = server.usage()["cpu_seconds"]
    figures = run_phase_subprocess(request, memory_limit_mb)
    after = server.usage()
    cpu = after["cpu_seconds"]
    figures["server_cpu_seconds"] = cpu - before if cpu is not None and before is not None else None
    figures["server_peak_mb"] = after["peak_mb"]
    figures["server_cores"] = server.cores
    return figures


def run_phase_subprocess(
    request: PhaseRequest, memory_limit_mb: int | None = None
) -> dict[str, Any]:
    """Run a phase in a fresh Python process (in a memory cgroup when a limit is given)."""
    cage = MemoryCage.create(memory_limit_mb) if memory_limit_mb else None
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bronze_sync.bench.worker", json.dumps(asdict(request))],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            check=False,
            preexec_fn=cage.enter if cage else None,
        )
        if cage and done.returncode != 0 and cage.oom_killed():
            return {"seconds": None, "peak_mb": None, "oom_killed": True, **_cage(cage)}
        figures = _figures(request, done)
        return {**figures, **_cage(cage)} if cage else figures
    finally:
        if cage:
            cage.close()


def _cage(cage: MemoryCage) -> dict[str, Any]:
    return {"memory_limit_mb": cage.limit_mb, "cgroup_peak_mb": cage.peak_mb()}


def _figures(request: PhaseRequest, done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    if done.returncode != 0:
        raise RuntimeError(f"{request.tool} {request.phase} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def default_workdir() -> Path:
    """Return a scratch folder for the benchmark's Delta tables."""
    return Path(tempfile.gettempdir()) / "bronze_sync_bench"
