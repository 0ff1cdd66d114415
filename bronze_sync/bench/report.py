"""Benchmark output: a Markdown table (for docs/performance.md) and the JSON figures."""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bronze_sync.bench.worker import SPARK_TOOL

PHASE_ORDER = ["initial", "daily", "noop", "daily_recent", "rollback", "vacuum"]
TOOL_ORDER = ["bronze_sync", SPARK_TOOL, "dlt", "notebook"]
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
    for tool in ("bronze_sync", SPARK_TOOL):
        lines += _breakdown(tool, [r for r in results if r["tool"] == tool and r.get("phases")])
    return "\n".join(lines + spark_sizing(results))


def spark_rows_per_core(results: list[dict[str, Any]]) -> float | None:
    """Return the spark engine's daily rows/s per server core (table rows / daily s / cores)."""
    daily = _spark_daily(results)
    if daily is None:
        return None
    return float(daily["rows"] / daily["seconds"] / _cores(daily))


def spark_sizing(results: list[dict[str, Any]]) -> list[str]:
    """Return the line sizing a cluster: the spark engine's rows/s per core of the daily sync."""
    daily, rate = _spark_daily(results), spark_rows_per_core(results)
    if daily is None or rate is None:
        return []
    return [
        "",
        f"spark engine rows/s per core: {rate:,.0f} ({daily['rows']:,} rows / "
        f"{daily['seconds']:.2f} s daily / {_cores(daily)} cores of the local Sail "
        f"{_version('pysail')} server)",
    ]


def _spark_daily(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next(
        (
            r
            for r in results
            if r["tool"] == SPARK_TOOL and r["phase"] == "daily" and r.get("seconds")
        ),
        None,
    )


def _cores(result: dict[str, Any]) -> int:
    return int(result.get("server_cores") or os.cpu_count() or 1)


def _row(r: dict[str, Any], base: float | None) -> str:
    head = f"| {r['phase']} | {r['tool']} | {r.get('rows', 0):,} "
    if r.get("oom_killed"):
        return head + f"| killed above {r.get('memory_limit_mb')} MB | - | - | - |"
    ratio = f"{r['seconds'] / base:.1f}x" if base else "-"
    rate = f"{r['rows'] / r['seconds']:,.0f}" if r.get("rows") and r["seconds"] else "-"
    peak = f"{r['peak_mb']:,.0f}" if r.get("peak_mb") else "-"
    return head + f"| {r['seconds']:.2f} | {rate} | {peak} | {ratio} |"


def _breakdown(tool: str, results: list[dict[str, Any]]) -> list[str]:
    """Return a tool's per-phase seconds (extract, keys, diff, commit, ...) as a table."""
    if not results:
        return []
    names = [n for n in BREAKDOWN if any(n in r["phases"] for r in results)]
    server = any("server_cpu_seconds" in r for r in results)
    extra = " server CPU s | server peak MB |" if server else ""
    lines = [
        "",
        f"{tool} per phase (seconds; the rest of the wall time is process start-up, "
        "imports and opening tables):",
        "",
        "| phase | " + " | ".join(names) + " | files rewritten | delete detection |" + extra,
        "|---|" + "---:|" * (len(names) + 1) + "---|" + "---:|" * (2 if server else 0),
    ]
    for r in sorted(results, key=_order):
        cells = [f"{r['phases'][n]:.2f}" if n in r["phases"] else "-" for n in names]
        tail = f" | {_files(r)} | {_detection(r)} |" + (_server(r) if server else "")
        lines.append(f"| {r['phase']} | " + " | ".join(cells) + tail)
    return lines


def _server(result: dict[str, Any]) -> str:
    """Return the Spark Connect server's CPU seconds and peak MB during a phase."""
    cpu, peak = result.get("server_cpu_seconds"), result.get("server_peak_mb")
    cpu_cell = f" {cpu:.2f} |" if cpu is not None else " - |"
    return cpu_cell + (f" {peak:,.0f} |" if peak is not None else " - |")


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
    """Write `{"rows": N, "machine": ..., "results": [...]}` (and the spark rows/s per core)."""
    data: dict[str, Any] = {"rows": rows, "machine": machine, "results": results}
    rate = spark_rows_per_core(results)
    if rate is not None:
        data["spark_rows_per_s_per_core"] = round(rate, 1)
    path.write_text(json.dumps(data, indent=2, default=str))


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
