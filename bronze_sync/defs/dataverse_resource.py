"""The Dataverse source as a Dagster resource (secrets stay `EnvVar`s in Dagster's views)."""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field

from bronze_sync.config.connections import DataverseSourceConfig
from bronze_sync.config.loader import expand_value
from bronze_sync.config.models import Config
from bronze_sync.defs.resources import SourceResource
from bronze_sync.sources.base import Source

_SECRET_KEYS = ("client_secret", "certificate_path", "certificate_thumbprint")


class DataverseSourceResource(SourceResource):
    """A Dataverse environment reached through its Web API with an app registration."""

    environment_url: str
    tenant_id: str = ""
    client_id: str
    client_secret: str | None = Field(default=None, description="Prefer ${VAR}: kept as EnvVar.")
    certificate_path: str | None = None
    certificate_thumbprint: str | None = None
    authority_url: str | None = None
    ca_file: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)

    def open_source(self) -> Source:
        """Return a DataverseSource."""
        from bronze_sync.sources.dataverse import DataverseSource

        values = {
            key: expand_value(value, os.environ, f"source.{key}")
            if isinstance(value, str)
            else value
            for key in DataverseSourceConfig.model_fields
            if key not in {"kind", *self.settings} and (value := getattr(self, key, None))
        }
        # Validate, not __init__: values and settings are untyped YAML/UI input to coerce.
        config = DataverseSourceConfig.model_validate(
            {"kind": "dataverse", **values, **self.settings}
        )
        return DataverseSource(config)


def dataverse_resource(config: Config, template: Any) -> DataverseSourceResource:
    """Return the resource for a dataverse source; `template(*path)` keeps ${VAR} values."""
    source = config.source
    assert isinstance(source, DataverseSourceConfig)
    strings = {
        key: template("source", key)
        for key in (
            "environment_url",
            "tenant_id",
            "client_id",
            *_SECRET_KEYS,
            "authority_url",
            "ca_file",
        )
        if getattr(source, key)
    }
    settings = source.model_dump(
        include={
            "page_size",
            "change_tracking",
            "max_concurrent_requests",
            "retry_budget",
            "retry_base_seconds",
            "request_timeout_seconds",
        }
    )
    return DataverseSourceResource(**strings, settings=settings)
