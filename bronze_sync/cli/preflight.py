"""Check a sync's configuration against the real bronze folder and source before any write."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bronze_sync.bronze.schema import check_source_columns
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config.models import Config, TableConfig
from bronze_sync.errors import ConfigError, SourceSchemaError, SourceUnavailableError
from bronze_sync.sources import open_source


def check_sync_preflight(config: Config, tables: list[str] | None) -> None:
    """Raise ConfigError listing every problem that would fail the sync whatever retries do.

    Nothing is created or changed. An unreachable source is no configuration problem: the
    run's retries handle it, so the source checks are left to the run then.
    """
    selected = config.select_tables(tables)  # unknown table names raise here
    problems = []
    store = BronzeStore.from_config(config.bronze)
    if store.is_local:
        problem = local_folder_problem(Path(store.root))
        if problem:
            problems.append(f"bronze.path: {problem}")
    problems += source_problems(config, selected)
    if len(problems) == 1:
        raise ConfigError(f"{problems[0]} (nothing was written)")
    if problems:
        listed = "\n".join(problems)
        raise ConfigError(f"{len(problems)} problems (nothing was written):\n{listed}")


def local_folder_problem(root: Path) -> str | None:
    """Return why bronze cannot live in local folder `root`, or None when it can."""
    if root.exists() and not root.is_dir():
        return f"{root} is a file, not a folder"
    existing = root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{root} cannot be created: {existing} is a file"
    if not _can_write_in(existing):
        where = "" if existing == root else f" ({existing}, where it would be created)"
        return f"{root} is read-only{where}"
    return None


def _can_write_in(folder: Path) -> bool:
    # os.access says yes to root even where writes fail (read-only mounts, /sys): try one.
    try:
        handle, probe = tempfile.mkstemp(prefix=".bronze_sync_probe_", dir=folder)
    except OSError:
        return False
    os.close(handle)
    os.unlink(probe)
    return True


def source_problems(config: Config, tables: list[TableConfig]) -> list[str]:
    """Return a line per table whose source table or configured column is missing."""
    problems = []
    source = open_source(config)
    try:
        for table in tables:
            try:
                check_source_columns(source.describe(table), table.name)
            except SourceSchemaError as exc:
                problems.append(str(exc))
            except SourceUnavailableError:
                break
    finally:
        source.close()
    return problems
