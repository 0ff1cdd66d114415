"""Who owns a staging folder: a marker naming the process (bronze_sync.processes) and run."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bronze_sync.processes import ProcessId

MARKER = ".owner.json"


@dataclass(frozen=True)
class Owner:
    """The process that created a staging folder, for which run, and when."""

    process: ProcessId
    run_id: str
    created_at: dt.datetime

    @classmethod
    def current(cls, run_id: str) -> Owner:
        """Return this process as an owner of a folder created now."""
        return cls(ProcessId.current(), run_id, dt.datetime.now(dt.UTC))

    def is_local(self) -> bool:
        """Return True when the owner ran on this host."""
        return self.process.is_local()

    def is_alive(self) -> bool:
        """Return True while the owning process (on this host) still runs."""
        return not self.process.is_dead()

    def describe(self) -> str:
        """Return "pid 123 on host host-a (run 1a2b3c)" for logs."""
        return f"{self.process.describe()} (run {self.run_id})"

    def to_json(self) -> dict[str, Any]:
        """Return the marker's JSON object."""
        return {
            **self.process.as_dict(),
            "run_id": self.run_id,
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Owner:
        """Build an owner from a marker's JSON object."""
        process = ProcessId.from_dict(value)
        if process is None:
            raise ValueError("owner marker without host and pid")
        created = dt.datetime.fromisoformat(value["created_at"])
        return cls(process, str(value.get("run_id", "")), created)


def write_marker(folder: Path, owner: Owner) -> None:
    """Write the owner marker into `folder` (atomically: a reader never sees half of it)."""
    temp = folder / f"{MARKER}.tmp"
    temp.write_text(json.dumps(owner.to_json()))
    os.replace(temp, folder / MARKER)


def read_marker(folder: Path) -> Owner | None:
    """Return the owner recorded in `folder`, or None when there is no readable marker."""
    try:
        return Owner.from_json(json.loads((folder / MARKER).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
