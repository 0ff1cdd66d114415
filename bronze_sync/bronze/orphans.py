"""Remove the data files a crashed writer left in a table folder without committing them.

Every data file a sync writes carries its lease token in its name, and the lease records the
table version the writer started from. When a later writer takes over a crashed writer's
lease it knows exactly which files that writer wrote and which commits it could have made:
a token file that no commit after that version adds was never committed, so nothing can
ever read it. A writer that was creating the table (no version yet) owns every file in the
folder that no commit adds. Files no commit references and that carry no token (other
tools' leftovers) are VACUUM's job once they are older than the retention window.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Iterable

import pyarrow.fs as pafs
from deltalake.fs import DeltaStorageHandler

from bronze_sync.bronze.lease import LeaseRecord
from bronze_sync.bronze.storage import BronzeStore

log = logging.getLogger(__name__)
LOG_DIR = "_delta_log"


def remove_orphans(store: BronzeStore, table: str, crashed: LeaseRecord) -> list[str]:
    """Remove the uncommitted data files of the crashed lease holder `crashed`; return them."""
    uri = store.table_uri(table)
    filesystem = pafs.PyFileSystem(DeltaStorageHandler(uri, store.options()))
    files = _data_files(filesystem)
    if crashed.table_version is None:
        candidates = files  # it was creating the table: the folder held nothing before
        since = -1
    else:
        candidates = [f for f in files if f"-{crashed.token}-" in f.rsplit("/", 1)[-1]]
        since = crashed.table_version
    if not candidates:
        return []
    committed = _added_since(filesystem, since)
    orphans = sorted(set(candidates) - committed)
    for path in orphans:
        filesystem.delete_file(path)
    if orphans:
        log.warning(
            "%s: removed %d data file(s) a crashed writer (run %s) never committed",
            table,
            len(orphans),
            crashed.run_id,
        )
    return orphans


def _data_files(filesystem: pafs.FileSystem) -> list[str]:
    """Return the paths of every data file under the table folder (relative to it)."""
    try:
        infos = filesystem.get_file_info(pafs.FileSelector("", recursive=True))
    except FileNotFoundError:
        return []
    return [
        info.path.lstrip("/")
        for info in infos
        if info.type == pafs.FileType.File
        and not any(part.startswith(("_", ".")) for part in info.path.lstrip("/").split("/"))
    ]


def _added_since(filesystem: pafs.FileSystem, version: int) -> set[str]:
    """Return the paths that the commits after `version` add."""
    try:
        infos = filesystem.get_file_info(pafs.FileSelector(LOG_DIR))
    except FileNotFoundError:
        return set()
    paths: set[str] = set()
    for info in infos:
        name = info.path.rsplit("/", 1)[-1]
        stem = name.removesuffix(".json")
        if not name.endswith(".json") or not stem.isdigit() or int(stem) <= version:
            continue
        with filesystem.open_input_stream(info.path) as stream:
            paths.update(_adds(stream.read().decode().splitlines()))
    return paths


def _adds(lines: Iterable[str]) -> set[str]:
    """Return the (decoded) paths the `add` actions of one commit file name."""
    paths = set()
    for line in lines:
        if not line.strip():
            continue
        action = json.loads(line)
        if "add" in action:
            paths.add(urllib.parse.unquote(action["add"]["path"]))
    return paths
