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
        }
        for i in range(count)
    ]


def _config(emulator: DataverseEmulator, workdir: str, page_size: int) -> Config:
    connection = emulator.connection()
    raw = {
        "source": {
            "kind": "dataverse",
            **{k: v for k, v in connection.items() if k != "tenant_id"},
            "page_size": page_size,
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


def run_dataverse_bench(
    rows: int = 200_000, page_size: int = 5000, latency_ms: float = 150
) -> list[dict[str, Any]]:
    """Measure an initial sync and a change-tracked daily sync with 1 % changes."""
    now = dt.datetime.now(dt.UTC)
    out: list[dict[str, Any]] = []
    with DataverseEmulator() as emulator, tempfile.TemporaryDirectory() as workdir:
        emulator.add_entity(account_entity())
        emulator.insert("account", _rows(rows, now), now)
        emulator.latency = latency_ms / 1000
        config = _config(emulator, workdir, page_size)
        for phase in ("initial", "daily_1pct_change_tracked"):
            if phase != "initial":
                step = max(1, rows // max(1, rows // 100))
                for i in range(0, rows, step):
                    emulator.update("account", str(uuid.UUID(int=i + 1)), name=f"changed {i}")
            before = len(emulator.api_requests())
            scans_before = len(emulator.api_requests(KEY_SCAN))
            result, seconds = sync_once(config, f"bench-dataverse-{phase}-{uuid.uuid4().hex[:6]}")
            out.append(
                {
                    "tool": "bronze_sync",
                    "phase": f"dataverse_{phase}",
                    "seconds": round(seconds, 3),
                    "rows": result.extracted_rows,
                    "peak_mb": None,
                    "rows_per_second": round(result.extracted_rows / seconds) if seconds else None,
                    "mode": result.mode,
                    "requests": len(emulator.api_requests()) - before,
                    "key_scan_requests": len(emulator.api_requests(KEY_SCAN)) - scans_before,
                    "page_size": page_size,
                    "latency_ms": latency_ms,
                }
            )
    return out


if __name__ == "__main__":
    import json
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    print(json.dumps(run_dataverse_bench(count), indent=1))
