"""`bronze-sync demo --source dataverse` runs the story against the in-process emulator."""

from __future__ import annotations

import pytest

from bronze_sync_tests.cli.test_cli import run


@pytest.mark.slow
def test_dataverse_demo_syncs_changes_deletes_and_purges(tmp_path):
    done = run("demo", "--source", "dataverse", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "only the changes are read" in out and "emulator-secret" not in out
    assert out.count(" yes ") == 3
    assert "metadata/OptionsetMetadata" in out and "metadata/StatusMetadata" in out
    assert "Completed" in out  # activitypointer's status labels, from the metadata table
