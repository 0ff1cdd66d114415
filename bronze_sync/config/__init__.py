"""Configuration: the YAML file that declares sources, bronze storage and tables."""

from bronze_sync.config.loader import CONFIG_ENV, load_config, parse_config, resolve_config_path
from bronze_sync.config.models import (
    BronzeConfig,
    Config,
    SourceConfig,
    SqlSourceConfig,
    SyncSettings,
    TableConfig,
    TableSettings,
    parse_tables,
)
from bronze_sync.config.profiles import PROFILE_ENV

__all__ = [
    "CONFIG_ENV",
    "PROFILE_ENV",
    "BronzeConfig",
    "Config",
    "SourceConfig",
    "SqlSourceConfig",
    "SyncSettings",
    "TableConfig",
    "TableSettings",
    "load_config",
    "parse_config",
    "parse_tables",
    "resolve_config_path",
]
