"""Refused rollbacks change nothing and say why; a failing table does not stop the others."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from pathlib import Path

import pytest
from deltalake import DeltaTable

from bronze_sync.checkpoints import find_checkpoint
from bronze_sync.errors import BronzeError
from bronze_sync.metadata import RunInfo
from bronze_sync.metadata.schemas import (
    CHECKPOINT_HISTORY,
    ROLLBACK_COMPARISON_REPORTS,
    SYNC_AUDIT_LOG,
)
from bronze_sync.rollback import (
    ApprovalError,
    RollbackRequest,
    RollbackValidationError,
    execute_rollback,
    prepare_rollback,
)
from bronze_sync.sync.recovery import accept_lost_versions
from bronze_sync_tests.helpers import PgTable
from bronze_sync_tests.rollback.scenario import IDS, Alerts, checkpoint, outage, rollback, synced

pytestmark = pytest.mark.slow  # emulator or many syncs per test: see conftest.SLOW_FOLDERS


@pytest.fixture
def h(pg_engine, pg_schema, make_config, harness_for):
    return synced(pg_engine, pg_schema, make_config, harness_for)


def failed_validations(h):
    return [
        r["ErrorMessage"]
        for r in h.meta.rows(SYNC_AUDIT_LOG)
        if r["Operation"] == "RollbackValidation" and r["Status"] == "Failed"
    ]


def test_unknown_checkpoint_is_refused_and_audited(h):
    with pytest.raises(RollbackValidationError, match="no checkpoint named 'nope'"):
        rollback(h, "nope")
    assert any("nope" in m for m in failed_validations(h))


def test_inactive_checkpoint_is_refused(h):
    good = find_checkpoint(h.meta, "good")
    row = dataclasses.replace(good, is_active=False, notes="expired").to_row()
    h.meta.update(CHECKPOINT_HISTORY, [row], keys=["CheckpointId"], columns=["IsActive", "Notes"])
    with pytest.raises(RollbackValidationError, match=r"good is inactive .*expired"):
        rollback(h, "good")
    assert failed_validations(h)


def test_vacuumed_version_names_the_vacuum_and_asks_for_a_later_checkpoint(h):
    h.account.update(["a01"], name="renamed")
    h.sync()
    version = h.delta().version()
    DeltaTable(h.store.table_uri("account")).vacuum(
        retention_hours=0, dry_run=False, enforce_retention_duration=False
    )
    with pytest.raises(RollbackValidationError) as error:
        rollback(h, "good")
    message = str(error.value)
    assert "version 0 of account was vacuumed on" in message
    assert "choose a later checkpoint" in message and "nothing was changed" in message
    assert h.delta().version() == version + 2  # VACUUM START/END only: no restore


def test_rewritten_checkpoint_version_is_refused(h):
    h.account.update(["a01"], name="first")
    h.sync()
    checkpoint(h, "later")  # pins version 1
    (Path(h.store.table_uri("account")) / "_delta_log" / f"{1:020d}.json").unlink()
    h.account.update(["a02"], name="second")
    with pytest.raises(BronzeError, match="log ends at version 0"):
        h.sync()  # the sync refuses to reuse version 1 ...
    assert accept_lost_versions(
        h.store, h.meta, h.config.tables[0], RunInfo("accept"), by="test"
    ) == (1, 1)
    h.sync()  # ... until the loss is accepted: the next commit takes version 1 again
    assert h.delta().version() == 1
    with pytest.raises(RollbackValidationError) as error:
        rollback(h, "later")
    message = str(error.value)
    assert re.search(
        r"account: Unrestorable: version 1 was rewritten \(the checkpoint recorded a \w+ commit "
        r"at [\d:. -]+ UTC, the log now holds a \w+ commit at [\d:. -]+ UTC\); choose a later",
        message,
    ), message
    assert h.delta().version() == 1 and failed_validations(h)


def test_execution_needs_a_current_approval_token(h):
    with pytest.raises(ApprovalError, match="needs the approval token"):
        rollback(h, "good", dry_run=False)
    h.account.update(["a02"], name="x")
    h.sync()
    token = rollback(h, "good").plan.token
    with pytest.raises(ApprovalError, match="does not belong to a dry run"):
        rollback(h, "good", dry_run=False, approval_token="0" * 32)
    h.account.update(["a03"], name="y")
    h.sync()  # the table changed after the dry run
    with pytest.raises(ApprovalError, match=r"stale: account \(v1 at the dry run, v2 now\)"):
        rollback(h, "good", dry_run=False, approval_token=token)
    assert h.delta().version() == 2
    assert not any(r["ReportType"] == "Executed" for r in h.meta.rows(ROLLBACK_COMPARISON_REPORTS))
    assert len(failed_validations(h)) == 3


def test_one_table_failing_to_restore_does_not_stop_the_others(
    pg_engine, pg_schema, make_config, harness_for
):
    tables = [PgTable(pg_engine, pg_schema, name) for name in ("account", "contact", "lead")]
    for table in tables:
        table.insert_ids(IDS)
    h = harness_for(make_config([t.config(allow_mass_delete=True) for t in tables]))
    for table in tables:
        h.sync(table.name)
    checkpoint(h, "good")
    for table in tables:
        outage(table, keep=3)
        h.sync(table.name)
    request = RollbackRequest("good", dry_run=False, require_approval=False, requested_by="t")
    run = RunInfo(run_id=str(uuid.uuid4()), pipeline_name="rollback_to_checkpoint")
    alerts = Alerts()
    plan = prepare_rollback(h.config, h.store, request, run, dt.datetime.now(dt.UTC))
    log = Path(h.store.table_uri("contact")) / "_delta_log" / f"{1:020d}.json"
    log.write_text("{not json")  # corrupt contact's log after validation
    outcome = execute_rollback(h.config, h.store, plan, run, alerts)
    status = {r.table: r.success for r in outcome.results}
    assert status == {"account": True, "contact": False, "lead": True}
    assert not outcome.success
    assert {c.table for c in outcome.checks if c.passed} == {"account", "lead"}
    assert set(outcome.post_checkpoint.table_versions) == {"account", "lead"}
    restores = {
        r["TableName"]: r["Status"]
        for r in h.meta.rows(SYNC_AUDIT_LOG)
        if r["Operation"] == "TableRestore"
    }
    assert restores == {"account": "Success", "contact": "Failed", "lead": "Success"}
    assert any(a.severity.value == "CRITICAL" and "1 failed" in a.subject for a in alerts.sent)
    reports = {
        r["TableName"]: (r["Status"], r["QualityScore"])
        for r in h.meta.rows(ROLLBACK_COMPARISON_REPORTS)
        if r["ReportType"] == "Executed"
    }
    assert reports == {
        "account": ("Restored", 100),
        "contact": ("Failed", 0),
        "lead": ("Restored", 100),
    }
