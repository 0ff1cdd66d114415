"""Sync processes the reliability tests start, crash, pause and race; and what they check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from bronze_sync.faults import FAULT_ENV
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync_tests.helpers import PgTable

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD = 300  # seconds: a hung child fails the test instead of hanging CI


def start_child(config_file: str, fault: str | None = None) -> subprocess.Popen[str]:
    """Start `python -m bronze_sync_tests.sync.child` on the config (optionally faulting)."""
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    if fault:
        env[FAULT_ENV] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "bronze_sync_tests.sync.child", config_file],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_child(config_file: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a child sync to its end (or its crash); return how it ended."""
    child = start_child(config_file, fault)
    out, err = child.communicate(timeout=HANG_GUARD)
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def wait_stopped(child: subprocess.Popen[str]) -> None:
    """Wait until the child froze itself (SIGSTOP at its fault point)."""
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()
        with open(f"/proc/{child.pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.05)
    raise AssertionError("the child never reached its fault point")


def assert_mirrors_source(bronze: Any, account: PgTable) -> None:
    """Assert bronze holds each source row once, with the source's values, and flags the rest."""
    rows = bronze.to_pylist()
    keys = [r["id"] for r in rows]
    assert len(keys) == len(set(keys)), "duplicate primary keys in bronze"
    by_id = {r["id"]: r for r in rows}
    source = {r["id"]: r for r in account.rows()}
    active = {k for k, r in by_id.items() if not (r["IsDeleted"] or r["IsPurged"])}
    assert active == set(source), (len(active), len(source))
    for key, row in source.items():
        held = by_id[key]
        for column in ("name", "amount", "createdon", "modifiedon"):
            assert held[column] == row[column], (key, column, held[column], row[column])


def unaudited_versions(h: Any) -> list[int]:
    """Return the bronze versions with no SyncAuditLog row."""
    table = h.config.tables[0].name
    audit = h.meta.read(SYNC_AUDIT_LOG, ["TableName", "DeltaVersion"])
    mine = audit.filter(pc.equal(audit.column("TableName"), table))
    audited = set(mine.column("DeltaVersion").drop_null().to_pylist())
    versions = {entry["version"] for entry in h.delta().history()}
    return sorted(versions - audited)


def unreferenced_files(table_dir: Path) -> list[str]:
    """Return the data files in a table folder that no commit in its log adds."""
    added = set()
    for commit in sorted((table_dir / "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line) if line.strip() else {}
            if "add" in action:
                added.add(urllib.parse.unquote(action["add"]["path"]))
    files = {
        str(p.relative_to(table_dir))
        for p in table_dir.rglob("*")
        if p.is_file() and not str(p.relative_to(table_dir)).startswith(("_", "."))
    }
    return sorted(files - added)


def staging_folders(config: Any) -> list[Path]:
    """Return the sync staging folders left under the config's staging root."""
    root = Path(config.sync.staging_path)
    return sorted(p for p in root.glob("*/*") if p.is_dir()) if root.exists() else []


def roll_back(h: Any, checkpoint_name: str) -> Any:
    """Roll the harness's tables back to a checkpoint: dry run, then execute with its token."""
    from bronze_sync_tests.rollback.scenario import Alerts, rollback

    h.alerts = Alerts()
    token = rollback(h, checkpoint_name).plan.token
    return rollback(h, checkpoint_name, dry_run=False, approval_token=token)
