"""Validation of bronze tables: checks over the Delta table and its metadata (no Dagster)."""

from bronze_sync.validation.model import CheckContext, CheckResult, CheckSeverity
from bronze_sync.validation.runner import (
    CHECKS,
    evaluate_table,
    record_results,
    validate_tables,
)

__all__ = [
    "CHECKS",
    "CheckContext",
    "CheckResult",
    "CheckSeverity",
    "evaluate_table",
    "record_results",
    "validate_tables",
]
