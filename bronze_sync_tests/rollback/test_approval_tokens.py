"""Approval tokens cannot be forged without the key, and each one restores at most once."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from bronze_sync.checkpoints import find_checkpoint
from bronze_sync.metadata import RunInfo
from bronze_sync.metadata.schemas import ROLLBACK_APPROVALS
from bronze_sync.rollback import ApprovalError, RollbackRequest, execute_rollback, prepare_rollback
from bronze_sync.rollback.approval import approval_token, token_hash
from bronze_sync.rollback.request import validate_rollback
from bronze_sync.rollback.secret import secret_path
from bronze_sync_tests.helpers import PgTable
from bronze_sync_tests.rollback.scenario import IDS, Alerts, checkpoint, rollback, synced


@pytest.fixture
def h(pg_engine, pg_schema, make_config, harness_for):
    """A synced account table checkpointed as `good`, then changed by one more sync."""
    h = synced(pg_engine, pg_schema, make_config, harness_for)
    h.account.update(["a01"], name="changed")
    h.sync()
    return h


def current_targets(h):
    good = find_checkpoint(h.meta, "good")
    return good, validate_rollback(h.store, good, None)


def plan_execution(h, token):
    request = RollbackRequest("good", dry_run=False, approval_token=token, requested_by="t")
    run = RunInfo(run_id=str(uuid.uuid4()), pipeline_name="rollback_to_checkpoint")
    return prepare_rollback(h.config, h.store, request, run, dt.datetime.now(dt.UTC)), run


def test_token_forged_with_the_empty_key_is_refused(h):
    rollback(h, "good")  # a dry run: the approval secret now exists
    good, targets = current_targets(h)
    forged = approval_token("", good, targets)
    with pytest.raises(ApprovalError):
        rollback(h, "good", dry_run=False, approval_token=forged)
    assert h.delta().version() == 1  # nothing restored
    assert secret_path().exists()


def test_each_dry_run_issues_its_own_token(h):
    first, second = rollback(h, "good").plan.token, rollback(h, "good").plan.token
    assert first != second


def test_token_restores_once_and_its_reuse_names_the_rollback_that_used_it(h):
    token = rollback(h, "good").plan.token
    done = rollback(h, "good", dry_run=False, approval_token=token)
    assert done.success and h.delta().version() == 2
    (used,) = h.meta.rows(ROLLBACK_APPROVALS)
    assert used["TokenHash"] == token_hash(token) and used["RollbackId"] == done.plan.rollback_id
    assert token not in str(used)  # only its hash is kept
    when = used["UsedDate"].astimezone(dt.UTC)
    with pytest.raises(ApprovalError) as error:
        rollback(h, "good", dry_run=False, approval_token=token)
    assert str(error.value).startswith(
        f"approval token already used by rollback run {used['PipelineRunId']} at "
        f"{when:%Y-%m-%d %H:%M:%S} UTC"
    )
    assert h.delta().version() == 2


def test_two_executions_approved_by_one_token_restore_once(h):
    token = rollback(h, "good").plan.token
    first, first_run = plan_execution(h, token)
    second, second_run = plan_execution(h, token)  # approved before the first one restored
    assert execute_rollback(h.config, h.store, first, first_run, Alerts()).success
    with pytest.raises(ApprovalError, match=f"already used by rollback run {first_run.run_id}"):
        execute_rollback(h.config, h.store, second, second_run, Alerts())
    assert h.delta().version() == 2  # one restore only


def test_configured_secret_signs_tokens_that_execute(
    pg_engine, pg_schema, make_config, harness_for
):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(IDS)
    h = harness_for(make_config([account.config()], rollback={"approval_secret": "s3cret-key"}))
    h.sync()
    checkpoint(h, "good")
    account.update(["a01"], name="changed")
    h.sync()
    h.alerts = Alerts()
    token = rollback(h, "good").plan.token
    good, targets = current_targets(h)
    assert token == approval_token("s3cret-key", good, targets, nonce=token[:16])
    assert rollback(h, "good", dry_run=False, approval_token=token).success
    assert not secret_path().exists()  # nothing generated when a secret is configured
