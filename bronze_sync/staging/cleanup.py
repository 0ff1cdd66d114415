"""Remove staging folders left behind by syncs that were killed (kill -9, OOM, power loss).

A process that ends normally, or by any exception, removes its own folder (StagingArea is a
context manager). One that is killed cannot: its folder stays until this runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

from bronze_sync.staging.area import staging_base
from bronze_sync.staging.owner import Owner, read_marker

DEFAULT_MAX_AGE = dt.timedelta(hours=24)

log = logging.getLogger(__name__)


def remove_dead_staging(
    root: str | Path | None,
    table: str | None = None,
    max_age: dt.timedelta = DEFAULT_MAX_AGE,
    now: dt.datetime | None = None,
) -> list[Path]:
    """Remove the staging folders whose owner is gone; return the folders removed.

    On this host an owner is gone when its process no longer runs (a reused pid does not
    count). A folder of another host, or without a readable marker, is removed once it has
    been idle longer than `max_age`. `root` is `sync.staging_path` (None: the default);
    `table` limits the sweep to one table's folders.
    """
    now = now or dt.datetime.now(dt.UTC)
    removed = []
    for folder in _run_folders(staging_base(root), table):
        why = _abandoned(folder, max_age, now)
        if why is not None and _remove(folder):
            log.info("removed staging folder %s: %s", folder, why)
            removed.append(folder)
    return removed


def _run_folders(base: Path, table: str | None) -> Iterator[Path]:
    """Yield every sync's staging folder (`<base>/<table>/<run>-<uuid>/`)."""
    tables = [base / table] if table else _folders(base)
    for table_folder in tables:
        yield from _folders(table_folder)


def _folders(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:  # not there (nothing staged yet) or vanished meanwhile
        return []


def _abandoned(folder: Path, max_age: dt.timedelta, now: dt.datetime) -> str | None:
    """Return why `folder` may be removed, or None while its owner may still use it."""
    owner = read_marker(folder)
    if owner is not None and owner.is_local():
        return None if owner.is_alive() else f"its owner, {owner.describe()}, is gone"
    idle_since = _last_activity(folder, owner)
    if idle_since is None or now - idle_since <= max_age:
        return None
    whose = f"owner {owner.describe()}" if owner else "no owner marker"
    return f"{whose}, idle since {idle_since:%Y-%m-%d %H:%M} UTC (over {max_age})"


def _last_activity(folder: Path, owner: Owner | None) -> dt.datetime | None:
    """Return the later of the marker's creation and the folder's last change."""
    try:
        changed = dt.datetime.fromtimestamp(folder.stat().st_mtime, dt.UTC)
    except OSError:
        return None
    created = owner.created_at.astimezone(dt.UTC) if owner else changed
    return max(changed, created)


def _remove(folder: Path) -> bool:
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        return False  # another sweep removed it first
    except OSError as exc:
        log.warning("cannot remove staging folder %s: %s", folder, exc)
        return False
    return True
