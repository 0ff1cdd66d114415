"""Resources: the source and bronze storage, configured from the YAML file.

Secrets stay out of Dagster's config views: a value written as `${VAR}` becomes an
`EnvVar`, and any other `${VAR}` template is kept as written and expanded at run time.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
from dagster_deltalake import AzureConfig, GcsConfig, LocalConfig, S3Config
from pydantic import Field

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config.loader import expand_value
from bronze_sync.config.models import Config, SqlSourceConfig
from bronze_sync.errors import ConfigError
from bronze_sync.sources.base import Source

StorageConfig = AzureConfig | S3Config | LocalConfig | GcsConfig
_PROVIDERS: dict[str, type[StorageConfig]] = {
    "abfss": AzureConfig,
    "abfs": AzureConfig,
    "az": AzureConfig,
    "azure": AzureConfig,
    "s3": S3Config,
    "s3a": S3Config,
    "gs": GcsConfig,
    "gcs": GcsConfig,
}


class SourceResource(dg.ConfigurableResource):
    """Opens the configured source for one run step."""

    def open_source(self) -> Source:
        """Return a connected source."""
        raise NotImplementedError


class SqlSourceResource(SourceResource):
    """A SQL database reached through a SQLAlchemy URL (secrets via env vars)."""

    url: str = Field(description="SQLAlchemy URL; `${VAR}` parts are expanded at run time.")
    fast_path: str = Field(
        default="auto", description="auto: ADBC for PostgreSQL; off: SQLAlchemy."
    )
    connect_timeout_seconds: int = 15

    def open_source(self) -> Source:
        """Return a SqlSource."""
        from bronze_sync.sources.sql import SqlSource

        url = expand_value(self.url, os.environ, "source.url")
        # Validate, not __init__: fast_path is free text in Dagster's config, checked here.
        config = SqlSourceConfig.model_validate(
            {
                "kind": "sql",
                "url": url,
                "fast_path": self.fast_path,
                "connect_timeout_seconds": self.connect_timeout_seconds,
            }
        )
        return SqlSource(config)


class BronzeStorageResource(dg.ConfigurableResource):
    """Where bronze and metadata Delta tables live (dagster-deltalake storage configs)."""

    path: str
    # A default, so that run config without `storage` is valid: the Launchpad pre-fills
    # config without `storage: {local: {}}` (it drops empty dicts), and every launch then
    # failed on "Missing required config entry storage". Only a provider with no option set
    # scaffolds empty, and its storage options are then as empty as the default's.
    storage: StorageConfig = Field(default_factory=LocalConfig, discriminator="provider")
    extra_options: dict[str, str] = Field(default_factory=dict)
    staging_path: str | None = None

    def store(self) -> BronzeStore:
        """Return the bronze store with expanded storage options."""
        options = {k: v for k, v in self.storage.str_dict().items() if k != "provider"}
        options.update(self.extra_options)
        options = {
            k: expand_value(v, os.environ, f"bronze.storage_options.{k}")
            for k, v in options.items()
        }
        path = expand_value(self.path, os.environ, "bronze.path")
        from bronze_sync.config.models import BronzeConfig

        return BronzeStore.from_config(BronzeConfig(path=path, storage_options=options))


def env_or_template(config: Config, *path: str) -> Any:
    """Return a config value as an EnvVar when it was one `${VAR}`, else as written."""
    raw = config.raw_value(*path)
    env = config.env_refs.get(".".join(path))
    if env:
        return dg.EnvVar(env)
    return raw


def bronze_resource(config: Config) -> BronzeStorageResource:
    """Return the bronze storage resource for the configuration."""
    path = config.raw_value("bronze", "path")
    scheme = path.split("://", 1)[0].lower() if "://" in path else "local"
    provider = _PROVIDERS.get(scheme, LocalConfig)
    fields = set(provider.model_fields) - {"provider"}
    known: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for key in config.bronze.storage_options:
        value = env_or_template(config, "bronze", "storage_options", key)
        if key in fields:
            known[key] = value
        else:
            extra[key] = config.raw_value("bronze", "storage_options", key)
    try:
        storage = provider(**known)
    except Exception as exc:  # pydantic reports which option is wrong
        raise ConfigError(f"bronze.storage_options: {exc}") from None
    return BronzeStorageResource(
        path=path, storage=storage, extra_options=extra, staging_path=config.sync.staging_path
    )
