"""Throwaway Dagster homes: marked with their owner, removed once the owner is gone."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from bronze_sync.cli.dagster_home import (
    OWNER_FILE,
    TEMP_PREFIX,
    remove_stale_temp_homes,
    temp_home,
)
from bronze_sync.cli.owner import owner_from_tags, owner_tags
from bronze_sync.processes import ProcessId, boot_id, process_start

DAY = 24 * 3600


def make_home(root: Path, name: str, owner: dict[str, str] | None, age_days: float = 0) -> Path:
    path = root / f"{TEMP_PREFIX}{name}"
    path.mkdir()
    if owner is not None:
        (path / OWNER_FILE).write_text(json.dumps(owner))
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


def ended_process() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_homes_of_dead_owners_and_old_unowned_homes_are_removed(tmp_path):
    me = ProcessId.current()
    here = me.host
    homes = {
        "reused pid": make_home(tmp_path, "a", {**owner_tags(me), "bronze_sync/pid_started": "0"}),
        "ended": make_home(
            tmp_path, "b", {"bronze_sync/host": here, "bronze_sync/pid": str(ended_process())}
        ),
        "live, old": make_home(tmp_path, "c", owner_tags(me), age_days=30),
        "unowned, old": make_home(tmp_path, "d", None, age_days=8),
        "unowned, new": make_home(tmp_path, "e", None, age_days=1),
        "elsewhere, new": make_home(tmp_path, "f", {**owner_tags(me), "bronze_sync/host": "x"}),
        "elsewhere, old": make_home(
            tmp_path, "g", {**owner_tags(me), "bronze_sync/host": "x"}, age_days=8
        ),
    }
    (tmp_path / f"{TEMP_PREFIX}file").write_text("not a home")

    removed = remove_stale_temp_homes(str(tmp_path))

    gone = {name for name, path in homes.items() if not path.exists()}
    assert gone == {"reused pid", "ended", "unowned, old", "elsewhere, old"}
    assert sorted(removed) == sorted(homes[name] for name in gone)
    assert (tmp_path / f"{TEMP_PREFIX}file").exists()


def test_temp_home_names_its_owner_and_is_removed_afterwards(tmp_path):
    with temp_home(str(tmp_path)) as home:
        owner = owner_from_tags(json.loads((home / OWNER_FILE).read_text()))
        assert owner == ProcessId.current() and not owner.is_dead()
        assert remove_stale_temp_homes(str(tmp_path)) == []  # a live owner keeps it
    assert not home.exists()


def test_a_killed_process_its_parent_has_not_reaped_counts_as_dead():
    proc = subprocess.Popen(["sleep", "600"])
    owner = ProcessId(ProcessId.current().host, proc.pid, process_start(proc.pid), boot_id())
    assert not owner.is_dead()
    proc.kill()
    try:
        while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            time.sleep(0.01)
        assert owner.is_dead()  # a zombie: the pid exists, nothing runs
    finally:
        proc.wait()
