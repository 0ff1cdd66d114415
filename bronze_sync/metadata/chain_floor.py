"""The floor of a trimmed SyncAuditLog chain: where verification starts after log retention."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bronze_sync.metadata.audit_chain import Tip

RETENTION_OPERATION = "AuditRetention"


@dataclass(frozen=True)
class Floor:
    """Where a trimmed chain starts: the last removed row's ChainSeq and RowHash."""

    tip: Tip
    cutoff: dt.datetime


def chain_floor(rows: Sequence[Mapping[str, Any]]) -> Floor | None:
    """Return the newest floor an AuditRetention row recorded (None: never trimmed)."""
    floors = []
    for row in rows:
        if row.get("Operation") != RETENTION_OPERATION or not row.get("RowHash"):
            continue
        try:
            data = json.loads(str(row.get("Notes") or ""))
            tip = Tip(int(data["floor_seq"]), str(data["floor_hash"]))
            floors.append(Floor(tip, dt.datetime.fromisoformat(data["cutoff"])))
        except (ValueError, KeyError, TypeError):
            continue  # a retention row without a floor: an older or failed one
    return max(floors, key=lambda f: f.tip.seq, default=None)
