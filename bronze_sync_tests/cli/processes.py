"""Run `bronze-sync` as separate processes, hold them mid-sync on a PostgreSQL lock, kill them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

BRONZE_SYNC = str(Path(sys.executable).parent / "bronze-sync")
REPO_ROOT = Path(__file__).resolve().parents[2]
# Hang guard only: a healthy command ends long before; a broken one would wait forever.
HANG_GUARD_SECONDS = 300


def cli_env(**extra: str) -> dict[str, str]:
    """Return the environment of a CLI process: no inherited config or Dagster home."""
    env = {k: v for k, v in os.environ.items() if k not in ("BRONZE_SYNC_CONFIG", "DAGSTER_HOME")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one command to its end (in `cwd`, else a fresh folder: its default Dagster home)."""
    return subprocess.run(
        [BRONZE_SYNC, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or tempfile.mkdtemp(prefix="bronze_sync_cli_"),
        timeout=HANG_GUARD_SECONDS,
    )


@contextlib.contextmanager
def started_cli(
    *args: str, env: dict[str, str], logs: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[str]]:
    """Start one command in its own process group, output to `logs`.out/.err; kill it at exit."""
    with open(f"{logs}.out", "w") as out, open(f"{logs}.err", "w") as err:
        proc = subprocess.Popen(
            [BRONZE_SYNC, *args],
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd or logs.parent,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                kill_group(proc)


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the process and every step process it started, and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=HANG_GUARD_SECONDS)


@contextlib.contextmanager
def locked_table(engine: sa.Engine, schema: str, table: str) -> Iterator[sa.Connection]:
    """Hold ACCESS EXCLUSIVE on the table in an open transaction: every reader waits."""
    with engine.connect() as conn:
        conn.exec_driver_sql(f'LOCK TABLE "{schema}"."{table}" IN ACCESS EXCLUSIVE MODE')
        try:
            yield conn
        finally:
            conn.rollback()


def wait_for_lock_waiter(
    engine: sa.Engine, schema: str, table: str, proc: subprocess.Popen[str]
) -> None:
    """Return once a session waits for the table's lock (the command's read is blocked)."""
    query = sa.text(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = to_regclass(:name)"
    )
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the command ended early (exit {proc.returncode})"
        with engine.connect() as conn:
            if conn.execute(query, {"name": f'"{schema}"."{table}"'}).scalar_one():
                return
        time.sleep(0.2)
    raise AssertionError("the command never reached the locked table")


def wait_for_text(path: Path, text: str, proc: subprocess.Popen[str]) -> str:
    """Return the file's content once it holds `text` (the process must still run)."""
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while time.monotonic() < deadline:
        content = path.read_text()
        if text in content:
            return content
        assert proc.poll() is None, f"the command ended (exit {proc.returncode}): {content}"
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in {path}")
