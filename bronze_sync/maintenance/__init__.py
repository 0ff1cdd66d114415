"""Weekly maintenance: checkpoint retention, checkpoint-safe VACUUM, OPTIMIZE, storage report."""

from bronze_sync.maintenance.run import MaintenanceRequest, run_maintenance
from bronze_sync.maintenance.summary import MaintenanceSummary, TableOutcome

__all__ = ["MaintenanceRequest", "MaintenanceSummary", "TableOutcome", "run_maintenance"]
