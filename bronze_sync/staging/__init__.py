"""Local staging: extracted rows and key sets on disk, so memory stays bounded."""

from bronze_sync.staging.area import StagingArea, staging_base
from bronze_sync.staging.cleanup import DEFAULT_MAX_AGE, remove_dead_staging

__all__ = ["DEFAULT_MAX_AGE", "StagingArea", "remove_dead_staging", "staging_base"]
