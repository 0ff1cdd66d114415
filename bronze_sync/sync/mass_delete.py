"""The mass-delete guard (ARCHITECTURE §4), shared by every engine."""

from __future__ import annotations

from bronze_sync.config.models import TableConfig
from bronze_sync.errors import MassDeleteError
from bronze_sync.sync.job import SyncJob


def check_mass_delete(
    job: SyncJob, table: TableConfig, deleted: int, active: int, purged: int
) -> None:
    """Refuse a sync that would flag more than max_delete_fraction of the active rows."""
    if job.allow_mass_delete or table.allow_mass_delete or not active or not deleted:
        return
    share = deleted / active
    if share > table.max_delete_fraction:
        raise MassDeleteError(
            f"this sync would flag {deleted:,} of {active:,} active rows ({share:.1%}) as deleted, "
            f"above max_delete_fraction {table.max_delete_fraction:.0%} "
            f"({purged:,} purges not counted); nothing was written. If the source "
            "really lost these rows, re-run with allow_mass_delete (CLI: --allow-mass-delete)",
            table=table.name,
        )
