"""Dataverse benchmark: a large entity through the emulator, initial and change-tracked syncs."""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from decimal import Decimal
from typing import Any

import yaml

from bronze_sync.bench.tool_bronze import sync_once
from bronze_sync.config import Config, parse_config
from bronze_sync.testing.dataverse import DataverseEmulator
from bronze_sync.testing.dataverse.demo import account_entity

KEY_SCAN = "$select=accountid&"


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


def _config(emulator: DataverseEmulator, workdir: str, page_size: int, **source: Any) -> Config:
    connection = emulator.connection()
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
    with DataverseEmulator() as emulator, tempfile.TemporaryDirectory() as workdir:
        emulator.add_entity(account_entity())
        emulator.insert("account", _rows(rows, now), now)
        emulator.latency = latency_ms / 1000
        for label, source in RUNS:
            config = _config(emulator, f"{workdir}/{label}", page_size, **source)
            for phase in ("initial", "daily_1pct"):
                if phase != "initial":
                    step = max(1, rows // max(1, rows // 100))
                    for i in range(0, rows, step):
                        emulator.update("account", str(uuid.UUID(int=i + 1)), name=f"{label} {i}")
                figures = _measure(emulator, config, f"{phase}_{label}")
                out.append({**figures, "page_size": page_size, "latency_ms": latency_ms})
    return out


def _measure(emulator: DataverseEmulator, config: Config, phase: str) -> dict[str, Any]:
    before = len(emulator.api_requests())
    scans_before = len(emulator.api_requests(KEY_SCAN))
    result, seconds = sync_once(config, f"bench-dataverse-{phase}-{uuid.uuid4().hex[:6]}")
    return {
        "tool": "bronze_sync",
        "phase": f"dataverse_{phase}",
        "seconds": round(seconds, 3),
        "rows": result.extracted_rows,
        "peak_mb": None,
        "rows_per_second": round(result.extracted_rows / seconds) if seconds else None,
        "mode": result.mode,
        "requests": len(emulator.api_requests()) - before,
        "key_scan_requests": len(emulator.api_requests(KEY_SCAN)) - scans_before,
    }


if __name__ == "__main__":
    import json
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    print(json.dumps(run_dataverse_bench(count), indent=1))
