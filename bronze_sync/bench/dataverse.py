"""Dataverse benchmark: a large entity through the emulator, initial and change-tracked syncs.

The emulator runs in a child process (`EmulatorProcess`), so `time.process_time()` around a
sync counts the client's CPU only: JSON parsing, Arrow conversion and the Delta commit.
"""

from __future__ import annotations

import datetime as dt
import functools
import tempfile
import time
import uuid
from decimal import Decimal
from typing import Any

import yaml

from bronze_sync.bench.tool_bronze import sync_once
from bronze_sync.config import Config, parse_config
from bronze_sync.sources import open_source
from bronze_sync.testing.dataverse import DataverseEmulator
from bronze_sync.testing.dataverse.demo import account_entity
from bronze_sync.testing.dataverse.process import EmulatorProcess

KEY_SCAN = "$select=accountid&"
API = "/api/data/"
CPU_GOAL_US_PER_ROW = 15.0
SPEEDUP_GOAL = 3.0
READS = ["read_only_1_stream", "read_only_4_ranges"]


def _rows(count: int, now: dt.datetime) -> list[dict[str, Any]]:
    return [
        {
            "accountid": str(uuid.UUID(int=i + 1)),
            "name": f"account {i}",
            "accountnumber": f"ACC-{i:07d}",
            "revenue": Decimal(i) + Decimal("0.1234"),
            "exchangerate": Decimal("1.0000000000"),
            "numberofemployees": i % 5000,
            "industrycode": i % 33 + 1,
            "statecode": 0,
            "statuscode": 1,
            "msft_datastate": 0,
            "createdon": now - dt.timedelta(minutes=i),
            "modifiedon": now - dt.timedelta(minutes=i),
        }
        for i in range(count)
    ]


def populate(count: int, now: dt.datetime, emulator: DataverseEmulator) -> None:
    """Serve the demo `account` entity with `count` generated rows (runs in the child)."""
    emulator.add_entity(account_entity())
    emulator.insert("account", _rows(count, now), now)


def _config(connection: dict[str, str], workdir: str, page_size: int, **source: Any) -> Config:
    raw = {
        "source": {
            "kind": "dataverse",
            **{k: v for k, v in connection.items() if k != "tenant_id"},
            "page_size": page_size,
            **source,
        },
        "bronze": {"path": f"{workdir}/bronze"},
        "sync": {"staging_path": f"{workdir}/staging"},
        "tables": [
            {
                "name": "account",
                "source": "account",
                "primary_key": "accountid",
                "created_column": "createdon",
                "modified_column": "modifiedon",
            }
        ],
    }
    return parse_config(yaml.safe_dump(raw), env={})


# (label, source settings): change tracking (one stream, deltaLink), then without it, where
# the initial load and every key scan read createdon ranges in parallel (or one stream).
RUNS: list[tuple[str, dict[str, Any]]] = [
    ("change_tracked", {}),
    ("untracked_4_ranges", {"change_tracking": "off", "parallel_reads": 4}),
    ("untracked_1_stream", {"change_tracking": "off", "parallel_reads": 1}),
]


def run_dataverse_bench(
    rows: int = 200_000, page_size: int = 5000, latency_ms: float = 150
) -> list[dict[str, Any]]:
    """Measure initial and daily (1 % changes) syncs, with and without change tracking."""
    now = dt.datetime.now(dt.UTC)
    out: list[dict[str, Any]] = []
    setup = functools.partial(populate, rows, now)
    with (
        EmulatorProcess(setup, latency_ms / 1000) as emulator,
        tempfile.TemporaryDirectory() as workdir,
    ):
        _warm_up(emulator, f"{workdir}/warm_up", page_size)
        for label, source in RUNS:
            config = _config(emulator.connection(), f"{workdir}/{label}", page_size, **source)
            for phase in ("initial", "daily_1pct"):
                if phase != "initial":
                    step = max(1, rows // max(1, rows // 100))
                    changes = [
                        (str(uuid.UUID(int=i + 1)), {"name": f"{label} {i}"})
                        for i in range(0, rows, step)
                    ]
                    emulator.update("account", changes)
                out.append(_measure(emulator, config, f"{phase}_{label}"))
        # The read path alone (requests, JSON, Arrow; no staging, Delta commit or row
        # history), one stream and 4 ranges: the ranges' speed-up without the sync's fixed costs.
        reads = [("1_stream", RUNS[2][1]), ("4_ranges", RUNS[1][1])]
        configs = {
            label: _config(emulator.connection(), f"{workdir}/read", page_size, **source)
            for label, source in reads
        }
        # One unmeasured read of each kind first: after the daily changes the emulator
        # re-sorts the rows and rebuilds its createdon index on first use (Dataverse keeps
        # its indexes), which would land on whichever read came first.
        for label, config in configs.items():
            _measure_read(emulator, config, label)
        out += [_measure_read(emulator, config, label) for label, config in configs.items()]
    extra = {"page_size": page_size, "latency_ms": latency_ms, "emulator_pid": emulator.pid}
    return [{**r, **extra} for r in out]


def _warm_up(emulator: EmulatorProcess, workdir: str, page_size: int) -> None:
    """Sync the entity once, unmeasured, so the first measured run pays no one-time costs."""
    # The first sync in a process imports the Delta, history and metadata code, and the
    # emulator encodes each row's JSON on its first read: neither is the client's per-row work.
    config = _config(emulator.connection(), workdir, page_size, **RUNS[1][1])
    sync_once(config, f"bench-dataverse-warm-up-{uuid.uuid4().hex[:6]}")


def _measure(emulator: EmulatorProcess, config: Config, phase: str) -> dict[str, Any]:
    before = emulator.request_count(API)
    scans_before = emulator.request_count(KEY_SCAN)
    server_before, cpu_before = emulator.cpu_seconds(), time.process_time()
    result, seconds = sync_once(config, f"bench-dataverse-{phase}-{uuid.uuid4().hex[:6]}")
    cpu = time.process_time() - cpu_before
    server = emulator.cpu_seconds() - server_before
    rows = result.extracted_rows
    figures = _figures(f"dataverse_{phase}", seconds, rows, cpu, server, result.mode)
    figures["requests"] = emulator.request_count(API) - before
    figures["key_scan_requests"] = emulator.request_count(KEY_SCAN) - scans_before
    return figures


def _measure_read(emulator: EmulatorProcess, config: Config, label: str) -> dict[str, Any]:
    """Read every row through the source without syncing; return the same figures."""
    table = config.tables[0]
    with open_source(config) as source:
        schema = source.describe(table)
        before = emulator.request_count(API)
        server_before = emulator.cpu_seconds()
        cpu_before, started = time.process_time(), time.perf_counter()
        rows = sum(batch.num_rows for batch in source.read_rows(table, schema, None))
        cpu, seconds = time.process_time() - cpu_before, time.perf_counter() - started
        server = emulator.cpu_seconds() - server_before
    figures = _figures(f"dataverse_read_only_{label}", seconds, rows, cpu, server, "read")
    figures["requests"] = emulator.request_count(API) - before
    figures["key_scan_requests"] = 0
    return figures


def _figures(
    phase: str, seconds: float, rows: int, cpu: float, server: float, mode: str
) -> dict[str, Any]:
    """Return one run's figures: wall and CPU seconds, rows, rates and the emulator's CPU."""
    return {
        "tool": "bronze_sync",
        "phase": phase,
        "seconds": round(seconds, 3),
        "rows": rows,
        "peak_mb": None,
        "rows_per_second": round(rows / seconds) if seconds else None,
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_row": round(cpu / rows * 1e6, 2) if rows else None,
        "emulator_cpu_seconds": round(server, 3),
        "mode": mode,
    }


def summary(results: list[dict[str, Any]]) -> list[str]:
    """Return Markdown lines: client CPU per run, and the initial loads against the goals."""
    by_phase = {r["phase"]: r for r in results}
    lines = [
        "| run | rows | seconds | rows/s | client CPU s | CPU µs/row | emulator CPU s | requests |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rate = f"{r['rows_per_second']:,}" if r.get("rows_per_second") else "-"
        per_row = f"{r['cpu_us_per_row']:.1f}" if r.get("cpu_us_per_row") else "-"
        lines.append(
            f"| {r['phase'].removeprefix('dataverse_')} | {r['rows']:,} | {r['seconds']:.2f} "
            f"| {rate} | {r['cpu_seconds']:.2f} | {per_row} | {r['emulator_cpu_seconds']:.2f} "
            f"| {r['requests']} |"
        )
    lines += [
        "",
        f"Client CPU per row (goal <= {CPU_GOAL_US_PER_ROW:g} µs); a sync includes staging and "
        "the Delta commit, read_only is the Web API read and the Arrow conversion alone:",
    ]
    for phase in [f"initial_{label}" for label, _ in RUNS] + READS:
        run = by_phase.get(f"dataverse_{phase}")
        if run and run.get("cpu_us_per_row"):
            verdict = "met" if run["cpu_us_per_row"] <= CPU_GOAL_US_PER_ROW else "missed"
            lines.append(f"- {phase}: {run['cpu_us_per_row']:.1f} µs/row ({verdict})")
    comparisons = [
        ("Untracked initial load", "initial_untracked_4_ranges", "initial_untracked_1_stream"),
        ("Read path alone", "read_only_4_ranges", "read_only_1_stream"),
    ]
    for title, four, one in comparisons:
        ranged = by_phase.get(f"dataverse_{four}")
        single = by_phase.get(f"dataverse_{one}")
        if ranged and single and ranged["seconds"] and single["seconds"]:
            speedup = single["seconds"] / ranged["seconds"]
            verdict = "met" if speedup >= SPEEDUP_GOAL else "missed"
            lines += [
                "",
                f"{title} at {ranged['latency_ms']:g} ms per page: 4 created-date ranges "
                f"{ranged['rows_per_second']:,} rows/s vs 1 stream "
                f"{single['rows_per_second']:,} rows/s = {speedup:.2f}x "
                f"(goal >= {SPEEDUP_GOAL:g}x: {verdict})",
            ]
    pids = {r.get("emulator_pid") for r in results}
    lines += ["", f"Emulator process id(s): {', '.join(str(p) for p in sorted(pids, key=str))}"]
    return lines


if __name__ == "__main__":
    import json
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    print(json.dumps(run_dataverse_bench(count), indent=1))
