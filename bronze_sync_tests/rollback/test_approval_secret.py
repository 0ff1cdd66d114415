"""Without rollback.approval_secret, a secret is generated once per machine and kept private."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bronze_sync.rollback.secret import ApprovalSecretError, approval_secret, secret_path

CREATORS = 4
# Each child imports, says it is ready, waits for the gate, then asks for the secret: they all
# look for it at the same moment and none finds one.
CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from bronze_sync.rollback.secret import approval_secret
    gate, ready = Path(sys.argv[1]), Path(sys.argv[2])
    ready.touch()
    while not gate.exists():
        time.sleep(0.0005)
    print(approval_secret(""))
    """
)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_secret_is_private_reused_and_never_logged(private_config_home, caplog):
    caplog.set_level(logging.DEBUG)
    secret = approval_secret("")
    path = private_config_home / "bronze_sync" / "approval_secret"
    assert secret_path() == path and path.read_text().strip() == secret
    assert len(secret) == 64 and int(secret, 16) >= 0
    assert mode_of(path) == 0o600 and mode_of(path.parent) == 0o700
    assert approval_secret("") == secret  # kept, not regenerated
    assert str(path) in caplog.text and secret not in caplog.text
    assert sorted(p.name for p in path.parent.iterdir()) == ["approval_secret"]


def test_dagster_home_keeps_the_secret_when_it_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    secret = approval_secret("")
    path = tmp_path / "dagster" / ".bronze_sync" / "approval_secret"
    assert secret_path() == path and path.read_text().strip() == secret


def test_configured_secret_is_used_and_nothing_is_generated(private_config_home):
    assert approval_secret("configured-key") == "configured-key"
    assert not secret_path().exists()


def test_secret_file_readable_by_others_is_refused(private_config_home):
    secret = approval_secret("")
    path = secret_path()
    path.chmod(0o644)
    with pytest.raises(ApprovalSecretError) as error:
        approval_secret("")
    assert str(path) in str(error.value) and "group/others" in str(error.value)
    assert secret not in str(error.value)


def test_damaged_secret_file_is_refused_not_replaced(private_config_home):
    path = secret_path()
    path.parent.mkdir(parents=True)
    path.write_text("")
    path.chmod(0o600)
    with pytest.raises(ApprovalSecretError, match="does not hold a generated secret"):
        approval_secret("")
    assert path.read_text() == ""


@pytest.mark.slow
def test_processes_creating_the_secret_at_once_end_with_one_secret(private_config_home, tmp_path):
    gate = tmp_path / "gate"
    ready = [tmp_path / f"ready{i}" for i in range(CREATORS)]
    env = {**os.environ, "XDG_CONFIG_HOME": str(private_config_home)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(gate), str(flag)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    while not all(flag.exists() for flag in ready):
        assert all(child.poll() is None for child in children), "a child died before the gate"
        time.sleep(0.01)
    assert not secret_path().exists()
    gate.touch()
    outputs = [child.communicate(timeout=120)[0].strip() for child in children]
    assert [child.returncode for child in children] == [0] * CREATORS
    path = private_config_home / "bronze_sync" / "approval_secret"
    assert set(outputs) == {path.read_text().strip()}
    assert sorted(p.name for p in path.parent.iterdir()) == ["approval_secret"]  # no temp files
