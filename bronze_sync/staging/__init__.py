"""Local staging: extracted rows and key sets on disk, so memory stays bounded."""

from bronze_sync.staging.area import StagingArea

__all__ = ["StagingArea"]
