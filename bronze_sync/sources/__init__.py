"""Sources: the systems bronze copies from."""

from __future__ import annotations

from bronze_sync.config.models import Config
from bronze_sync.errors import ConfigError
from bronze_sync.sources.base import ChangeFeed, ExtractPlan, Source


def open_source(config: Config) -> Source:
    """Return a connected Source for the configured source kind."""
    if config.source.kind == "sql":
        from bronze_sync.sources.sql import SqlSource

        return SqlSource(config.source)
    if config.source.kind == "dataverse":
        from bronze_sync.sources.dataverse import DataverseSource

        return DataverseSource(config.source)
    raise ConfigError(f"source.kind: {config.source.kind!r} is not supported")


__all__ = ["ChangeFeed", "ExtractPlan", "Source", "open_source"]
