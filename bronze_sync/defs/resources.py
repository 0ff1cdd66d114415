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
from bronze_sync.config.storage_options import (
    ACCOUNT_ENV,
    account_name,
    check_azure_options,
    scheme_of,
)
from bronze_sync.errors import ConfigError
from bronze_sync.sources.base import Source

StorageConfig = AzureConfig | S3Config | LocalConfig | GcsConfig
_PROVIDERS: dict[str, type[StorageConfig]] = {
    "abfss": AzureConfig,
    "abfs": AzureConfig,
    "az": AzureConfig,
    "azure": AzureConfig,
    "adl": AzureConfig,
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
    """Return the bronze storage resource for the configuration.

    Every option deltalake reads is passed through (the configuration refused any other):
    on Azure, a credential that dagster-deltalake's AzureConfig has a field for goes there
    (an EnvVar when written as one `${VAR}`); every other option, under the name it was
    written with, goes to `extra_options` as written, `${VAR}` expanded only at run time.
    """
    path = config.raw_value("bronze", "path")
    scheme = scheme_of(path) or "local"
    provider = _PROVIDERS.get(scheme, LocalConfig)
    if provider is AzureConfig:
        known, extra = _azure_fields(config)
    else:
        known, extra = _provider_fields(config, provider)
    try:
        storage = provider(**known)
    except Exception as exc:  # pydantic reports which option is wrong
        raise ConfigError(f"bronze.storage_options: {exc}") from None
    return BronzeStorageResource(
        path=path, storage=storage, extra_options=extra, staging_path=config.sync.staging_path
    )


def _provider_fields(
    config: Config, provider: type[StorageConfig]
) -> tuple[dict[str, Any], dict[str, str]]:
    fields = set(provider.model_fields) - {"provider"}
    known: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for key in config.bronze.storage_options:
        if key in fields:
            known[key] = env_or_template(config, "bronze", "storage_options", key)
        else:
            extra[key] = _as_written(config, key)
    return known, extra


def _azure_fields(config: Config) -> tuple[dict[str, Any], dict[str, str]]:
    options = check_azure_options(config.bronze.path, config.bronze.storage_options)
    known: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for canonical, written in options.given.items():
        field = _AZURE_FIELDS.get(canonical)
        if field:
            known[field] = env_or_template(config, "bronze", "storage_options", written)
        else:
            extra[written] = _as_written(config, written)
    if "account_name" not in known:
        # AzureConfig requires it; deltalake reads it from the URI or the emulator's default.
        account = account_name(config.bronze.path, options)
        known["account_name"] = account if account else dg.EnvVar(ACCOUNT_ENV)
    return known, extra


def _as_written(config: Config, key: str) -> str:
    raw = config.raw_value("bronze", "storage_options", key)
    if isinstance(raw, bool):
        return str(raw).lower()
    return str(raw)


# object_store's canonical option name -> dagster-deltalake AzureConfig's (text) field.
_AZURE_FIELDS = {
    "azure_storage_account_name": "account_name",
    "azure_storage_account_key": "account_key",
    "azure_storage_client_id": "client_id",
    "azure_storage_client_secret": "client_secret",
    "azure_storage_tenant_id": "tenant_id",
    "azure_federated_token_file": "federated_token_file",
    "azure_storage_sas_key": "sas_key",
    "azure_storage_token": "token",
    "azure_msi_resource_id": "msi_resource_id",
    "azure_msi_endpoint": "msi_endpoint",
    "azure_container_name": "container_name",
}
