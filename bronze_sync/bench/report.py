"""Benchmark output: a Markdown table (for docs/performance.md) and the JSON figures."""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa

PHASE_ORDER = ["initial", "daily", "noop", "daily_recent", "rollback", "vacuum"]
TOOL_ORDER = ["bronze_sync", "dlt", "notebook"]
BREAKDOWN = [
    "schema",
    "state",
    "extract",
    "keys",
    "diff",
    "commit",
    "commit_floor",
    "history",
    "validate",
    "audit",
    "checkpoint",
    "dry_run",
    "execute",
]


def machine_description(pg_url: str) -> str:
    """Return one line describing the machine, PostgreSQL and library versions."""
    cpu = _cpu_model()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        engine = sa.create_engine(pg_url)
        with engine.connect() as conn:
            server = conn.exec_driver_sql("SHOW server_version").scalar_one()
        engine.dispose()
    except sa.exc.SQLAlchemyError:
        server = "?"
    versions = ", ".join(
        f"{p} {_version(p)}" for p in ("deltalake", "pyarrow", "polars", "dlt", "dagster")
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, "
        f"Python {platform.python_version()}, PostgreSQL {server}; {versions}"
    )


def markdown(results: list[dict[str, Any]], machine: str) -> str:
    """Return the phase x tool table: seconds, rows/s, peak MB and time ratio to bronze_sync."""
    baseline = {r["phase"]: r["seconds"] for r in results if r["tool"] == "bronze_sync"}
    lines = [
        f"Machine: {machine}",
        "",
        "| phase | tool | rows | seconds | rows/s | peak MB | x bronze_sync time |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(results, key=_order):
        lines.append(_row(r, baseline.get(r["phase"])))
    breakdown = _breakdown([r for r in results if r["tool"] == "bronze_sync" and r.get("phases")])
    return "\n".join(lines + breakdown)


def _row(r: dict[str, Any], base: float | None) -> str:
    head = f"| {r['phase']} | {r['tool']} | {r.get('rows', 0):,} "
    if r.get("oom_killed"):
        return head + f"| killed above {r.get('memory_limit_mb')} MB | - | - | - |"
    ratio = f"{r['seconds'] / base:.1f}x" if base else "-"
    rate = f"{r['rows'] / r['seconds']:,.0f}" if r.get("rows") and r["seconds"] else "-"
    peak = f"{r['peak_mb']:,.0f}" if r.get("peak_mb") else "-"
    return head + f"| {r['seconds']:.2f} | {rate} | {peak} | {ratio} |"


def _breakdown(results: list[dict[str, Any]]) -> list[str]:
    """Return bronze_sync's per-phase seconds (extract, keys, diff, commit, ...) as a table."""
    if not results:
        return []
    names = [n for n in BREAKDOWN if any(n in r["phases"] for r in results)]
    lines = [
        "",
        "bronze_sync per phase (seconds; the rest of the wall time is process start-up, "
        "imports and opening tables):",
        "",
        "| phase | " + " | ".join(names) + " | files rewritten | delete detection |",
        "|---|" + "---:|" * (len(names) + 1) + "---|",
    ]
    for r in sorted(results, key=_order):
        cells = [f"{r['phases'][n]:.2f}" if n in r["phases"] else "-" for n in names]
        tail = f" | {_files(r)} | {_detection(r)} |"
        lines.append(f"| {r['phase']} | " + " | ".join(cells) + tail)
    return lines


def _detection(result: dict[str, Any]) -> str:
    """Return which delete-detection path a sync phase took and how many keys it compared."""
    counts = result.get("counts") or {}
    path = counts.get("delete_detection")
    if not path:
        return "-"
    compared = counts.get("keys_compared")
    return f"{path} ({compared:,} keys)" if compared is not None else path


def _files(result: dict[str, Any]) -> str:
    """Return "rewritten / total" data files of a sync phase (- when not a sync)."""
    counts = result.get("counts") or {}
    if counts.get("files_total") is None:
        return "-"
    return f"{counts.get('files_rewritten', 0)} / {counts['files_total']}"


def write_json(path: Path, rows: int, results: list[dict[str, Any]], machine: str) -> None:
    """Write `{"rows": N, "machine": ..., "results": [...]}`."""
    path.write_text(
        json.dumps({"rows": rows, "machine": machine, "results": results}, indent=2, default=str)
    )


def _order(result: dict[str, Any]) -> tuple[int, int]:
    phase = PHASE_ORDER.index(result["phase"]) if result["phase"] in PHASE_ORDER else 99
    tool = TOOL_ORDER.index(result["tool"]) if result["tool"] in TOOL_ORDER else 99
    return phase, tool


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
