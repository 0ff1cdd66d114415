"""Check a sync's configuration against the real bronze folder and source before any write."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bronze_sync.bronze.row_metadata import metadata_fields
from bronze_sync.bronze.schema import check_source_columns
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config.kinds import PARTITIONED
from bronze_sync.config.models import Config, TableConfig
from bronze_sync.defs.resources import bronze_resource
from bronze_sync.errors import ConfigError, SourceSchemaError, SourceUnavailableError
from bronze_sync.pii.source import protected
from bronze_sync.sources import open_source
from bronze_sync.sync.kinds import check_kind_columns
from bronze_sync.sync.partition_plan import range_values, without_suffix
from bronze_sync.sync.partitioned import value_key


def check_sync_preflight(
    config: Config, tables: list[str] | None, partition_range: str | None = None
) -> dict[str, list[str]] | None:
    """Raise ConfigError listing every problem that would fail the sync whatever retries do.

    Nothing is created or changed (on object storage, a probe object is written and
    removed: BronzeError when the storage refuses it). An unreachable source is no
    configuration problem: the run's retries handle it, so the source checks are left to
    the run then. With
    `partition_range` (FROM:TO), return the partition keys it holds per selected table.
    """
    if partition_range is not None and not tables:
        raise ConfigError(
            "--partition-values needs --tables (the partitioned tables to reload; "
            "nothing was written)"
        )
    selected = config.select_tables(tables)  # unknown table names raise here
    bronze_resource(config)  # what Dagster will be given: refused here, before any write
    problems = []
    store = BronzeStore.from_config(config.bronze)
    if store.is_local:
        problem = local_folder_problem(Path(store.root))
        if problem:
            problems.append(f"bronze.path: {problem}")
    if partition_range is not None:
        problems += [
            f"{t.name}: --partition-values is for partitioned tables (this table is {t.kind})"
            for t in selected
            if t.kind != PARTITIONED
        ]
    problems += source_problems(config, selected)
    _raise_problems(problems)
    # Object storage: a wrong key, a missing container, an unreachable endpoint or a SAS
    # that may not write fail here, in one line naming the storage (exit 1), not mid-sync.
    store.check_access(write=True)
    chosen = None
    if partition_range is not None:
        chosen, wrong = range_keys(config, store, selected, partition_range)
        _raise_problems(wrong)
    return chosen


def _raise_problems(problems: list[str]) -> None:
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
                schema = protected(source, table, os.environ).describe(table)
                check_source_columns(schema, table.name, metadata_fields(table.metadata_columns))
                check_kind_columns(table, schema)
            except (SourceSchemaError, ConfigError) as exc:
                problems.append(str(exc))
            except SourceUnavailableError:
                break
    finally:
        source.close()
    return problems


def range_keys(
    config: Config, store: BronzeStore, tables: list[TableConfig], text: str
) -> tuple[dict[str, list[str]], list[str]]:
    """Return the keys FROM:TO holds per table, and a line per table it cannot reload."""
    chosen: dict[str, list[str]] = {}
    problems = []
    with open_source(config) as source:
        for table in tables:
            try:
                values = range_values(source, store, table, text)
            except ConfigError as exc:
                problems.append(without_suffix(str(exc)))
                continue
            chosen[table.name] = [value_key(v) for v in values]
    return chosen, problems
