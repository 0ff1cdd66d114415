"""The Dagster home a command runs in: $DAGSTER_HOME (locked), or a marked throwaway folder."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bronze_sync.cli.owner import owner_from_tags, owner_tags
from bronze_sync.errors import ConfigError
from bronze_sync.processes import ProcessId

LOCK_FILE = ".bronze_sync.lock"
TEMP_PREFIX = "bronze_sync_dagster_"
OWNER_FILE = "bronze_sync_owner.json"
MAX_TEMP_AGE = dt.timedelta(days=7)


def persistent_home() -> Path | None:
    """Return $DAGSTER_HOME as a folder, or None when it is not set."""
    value = os.environ.get("DAGSTER_HOME")
    if not value:
        return None
    home = Path(value).expanduser()
    if not home.is_dir():
        raise ConfigError(f"DAGSTER_HOME: {value} is not a folder (create it, or unset it)")
    return home


@contextlib.contextmanager
def home_lock(home: Path) -> Iterator[None]:
    """Hold an exclusive lock on `home` for the block.

    Dagster creates a fresh home's SQLite schemas on first use without coordination: two
    first runs at once collide ("table ... already exists", two alembic heads).
    """
    with open(home / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def temp_home(root: str | None = None) -> Iterator[Path]:
    """Yield a throwaway home marked with its owner process; remove it afterwards."""
    path = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=root))
    marker = {**owner_tags(), "created": dt.datetime.now(dt.UTC).isoformat()}
    (path / OWNER_FILE).write_text(json.dumps(marker))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_stale_temp_homes(root: str | None = None, now: float | None = None) -> list[Path]:
    """Remove throwaway homes of dead owners on this host, and unowned ones older than 7 days."""
    folder = Path(root or tempfile.gettempdir())
    removed = []
    for path in sorted(folder.glob(f"{TEMP_PREFIX}*")):
        if path.is_symlink() or not path.is_dir():
            continue
        if _is_stale(path, time.time() if now is None else now):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _is_stale(path: Path, now: float) -> bool:
    owner = _owner_of(path)
    if owner is not None and owner.is_local():
        # A live owner keeps its folder whatever its age (a long run); a dead one never needs it.
        return owner.is_dead()
    try:
        age = now - path.stat().st_mtime
    except OSError:
        return False
    return age > MAX_TEMP_AGE.total_seconds()


def _owner_of(path: Path) -> ProcessId | None:
    try:
        values = json.loads((path / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return None
    return owner_from_tags(values) if isinstance(values, dict) else None
