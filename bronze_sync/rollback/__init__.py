"""Rollback to a checkpoint: validate, analyse the impact, approve, restore, verify, report."""

from bronze_sync.rollback.history import RollbackRecord, list_rollbacks
from bronze_sync.rollback.impact import ImpactReport, Risk
from bronze_sync.rollback.request import (
    ApprovalError,
    RollbackRequest,
    RollbackValidationError,
)
from bronze_sync.rollback.service import (
    RollbackOutcome,
    RollbackPlan,
    execute_rollback,
    prepare_rollback,
    run_rollback,
)

__all__ = [
    "ApprovalError",
    "ImpactReport",
    "Risk",
    "RollbackOutcome",
    "RollbackPlan",
    "RollbackRecord",
    "RollbackRequest",
    "RollbackValidationError",
    "execute_rollback",
    "list_rollbacks",
    "prepare_rollback",
    "run_rollback",
]
