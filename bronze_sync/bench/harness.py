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
from bronze_sync.bench.worker import PhaseRequest

PHASES = ("initial", "daily", "noop")
Report = Callable[[str], None]


def run_tool(
    tool: str, rows: int, pg_url: str, workdir: Path, report: Report
) -> list[dict[str, Any]]:
    """Run one tool's three phases on a fresh copy of the source; return one row per phase."""
    engine = sa.create_engine(pg_url)
    source = pg_source.fresh_copy(engine, tool)
    folder = workdir / tool
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    results = []
    try:
        for phase in PHASES:
            if phase == "daily":
                changes = pg_source.apply_daily_changes(engine, tool, rows)
                report(f"{tool}: source changed ({asdict(changes)})")
            request = PhaseRequest(tool, phase, pg_url, source, str(folder))
            figures = run_phase_subprocess(request)
            figures.update({"tool": tool, "phase": phase, "rows": rows})
            if phase == "daily":
                figures["changes"] = asdict(changes)
            report(f"{tool} {phase}: {figures['seconds']:.2f} s, peak {figures['peak_mb']:.0f} MB")
            results.append(figures)
    finally:
        pg_source.drop_copy(engine, tool)
        engine.dispose()
    return results


def run_phase_subprocess(request: PhaseRequest) -> dict[str, Any]:
    """Run a phase in a fresh Python process and return its JSON figures."""
    done = subprocess.run(
        [sys.executable, "-m", "bronze_sync.bench.worker", json.dumps(asdict(request))],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{request.tool} {request.phase} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def default_workdir() -> Path:
    """Return a scratch folder for the benchmark's Delta tables."""
    return Path(tempfile.gettempdir()) / "bronze_sync_bench"
