"""The Dagster home commands use: $DAGSTER_HOME, else `.dagster/` in the current folder."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from bronze_sync.cli.dagster_home import HOME_ENV, dagster_home, instance_settings
from bronze_sync.errors import ConfigError
from bronze_sync.processes import ProcessId, boot_id, process_start


def test_default_home_is_created_in_the_current_folder_with_the_project_settings(
    tmp_path, monkeypatch
):
    monkeypatch.delenv(HOME_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    home = dagster_home()
    assert home == tmp_path / ".dagster"
    assert (home / "dagster.yaml").read_text() == instance_settings().read_text()
    assert os.environ[HOME_ENV] == str(home)  # step processes and the UI use it too
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.delenv(HOME_ENV)
    dagster_home()
    assert "concurrency" not in (home / "dagster.yaml").read_text()  # an edited file is kept


def test_dagster_home_that_is_not_a_folder_is_a_configuration_error(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"DAGSTER_HOME: .* is not a folder"):
        dagster_home()


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
