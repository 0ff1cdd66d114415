"""Staging folders: removed on every exit a process survives, swept up after one it does not."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from bronze_sync.staging import StagingArea, remove_dead_staging
from bronze_sync.staging.owner import MARKER

RUN_ID = "0123456789abcdef-run"
# A sync stand-in: stage a file, say where, then keep working until it is signalled.
CHILD = textwrap.dedent(
    """
    import signal, sys, time
    import pyarrow as pa
    from bronze_sync.staging import StagingArea
    # A shell's background job starts with SIGINT ignored; a terminal's Ctrl-C is not.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with StagingArea(sys.argv[1], "account", sys.argv[2]) as staging:
        rows = pa.table({"id": list(range(1000))})
        staging.stage("rows", rows.to_batches(), rows.schema)
        print(staging.dir, flush=True)
        while True:
            time.sleep(0.05)
    """
)


def start_sync(root: Path) -> tuple[subprocess.Popen, Path]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), RUN_ID], stdout=subprocess.PIPE, text=True
    )
    line = child.stdout.readline().strip()
    assert line, "the child did not create its staging area"
    return child, Path(line)


def edit_marker(folder: Path, **changes: object) -> None:
    marker = folder / MARKER
    marker.write_text(json.dumps({**json.loads(marker.read_text()), **changes}))


def test_folder_of_a_killed_sync_is_removed_and_a_running_one_is_kept(tmp_path, caplog):
    caplog.set_level("INFO")
    killed, killed_dir = start_sync(tmp_path)
    running, running_dir = start_sync(tmp_path)
    try:
        owner = json.loads((killed_dir / MARKER).read_text())
        assert owner["pid"] == killed.pid and owner["run_id"] == RUN_ID
        assert {"host", "pid_start", "boot_id", "created_at"} <= owner.keys()
        assert remove_dead_staging(tmp_path) == []  # both owners run
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert (killed_dir / "rows.arrow").exists()  # kill -9 left it behind
        assert remove_dead_staging(tmp_path) == [killed_dir]
        assert not killed_dir.exists() and (running_dir / "rows.arrow").exists()
        assert f"pid {killed.pid}" in caplog.text and "is gone" in caplog.text
    finally:
        running.kill()
        running.wait()


def test_interrupted_sync_removes_its_own_folder(tmp_path):
    child, folder = start_sync(tmp_path)
    child.send_signal(signal.SIGINT)  # Ctrl-C, or Dagster terminating the run
    child.wait(timeout=60)
    assert child.returncode != 0 and not folder.exists()


def test_reused_pid_is_not_taken_for_the_owner(tmp_path):
    mine = StagingArea(str(tmp_path), "account", RUN_ID)
    reused = StagingArea(str(tmp_path), "account", RUN_ID)
    owner = json.loads((reused.dir / MARKER).read_text())
    edit_marker(reused.dir, pid_start=str(int(owner["pid_start"]) - 1))  # same pid, older process
    assert remove_dead_staging(tmp_path) == [reused.dir]
    assert mine.dir.exists()
    mine.close()


def test_other_hosts_and_unmarked_folders_are_removed_only_when_idle_too_long(tmp_path):
    elsewhere = StagingArea(str(tmp_path), "account", RUN_ID)
    edit_marker(elsewhere.dir, host="another-host", pid=1)
    unmarked = tmp_path / "contact" / "left-by-an-old-version"
    unmarked.mkdir(parents=True)
    now = dt.datetime.now(dt.UTC)
    assert remove_dead_staging(tmp_path, now=now) == []
    later = now + dt.timedelta(hours=25)
    assert remove_dead_staging(tmp_path, table="contact", now=later) == [unmarked]
    assert remove_dead_staging(tmp_path, now=later) == [elsewhere.dir]


def test_missing_staging_root_is_nothing_to_remove(tmp_path):
    assert remove_dead_staging(tmp_path / "never-used") == []


@pytest.mark.parametrize("error", [ValueError("bad row"), KeyboardInterrupt(), SystemExit(3)])
def test_folder_is_removed_whatever_ends_the_sync(tmp_path, error):
    def batches():
        yield pa.record_batch({"id": [1, 2]})
        raise error  # the source fails half-way through the extract

    with pytest.raises(type(error)), StagingArea(str(tmp_path), "account", RUN_ID) as staging:
        folder = staging.dir
        staging.stage("rows", batches(), pa.schema([("id", pa.int64())]))
    assert not folder.exists()
    assert os.listdir(tmp_path / "account") == []
