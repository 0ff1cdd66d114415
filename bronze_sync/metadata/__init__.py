"""Operational metadata in Delta tables: config state, audit log, checkpoints, validation."""

from bronze_sync.metadata.audit import AuditEntry, RunInfo, ValidationRecord
from bronze_sync.metadata.store import MetadataStore

__all__ = ["AuditEntry", "MetadataStore", "RunInfo", "ValidationRecord"]
