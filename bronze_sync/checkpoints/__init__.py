"""Checkpoints: named sets of exact Delta versions that rollback can restore."""

from bronze_sync.checkpoints.create import (
    create_batch_checkpoint,
    create_checkpoint,
    find_checkpoint,
    list_checkpoints,
    promote_batch,
)
from bronze_sync.checkpoints.model import (
    RETENTION_DAYS,
    Checkpoint,
    CheckpointType,
    batch_name,
    daily_name,
)

__all__ = [
    "RETENTION_DAYS",
    "Checkpoint",
    "CheckpointType",
    "batch_name",
    "create_batch_checkpoint",
    "create_checkpoint",
    "daily_name",
    "find_checkpoint",
    "list_checkpoints",
    "promote_batch",
]
