"""The storage option names deltalake accepts for bronze on Azure (ADLS Gen2, Blob, OneLake).

deltalake hands `storage_options` to object_store, which reads them with
`AzureConfigKey::from_str` (its aliases below) and its HTTP client keys (also with an
`azure_` prefix); deltalake itself reads the retry keys. deltalake ignores any other name
silently, so a misspelt credential would only fail later, as "access denied": the
configuration refuses it instead, naming it. Names are matched case-insensitively, as
deltalake does. No dagster import: the configuration loader uses this module.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bronze_sync.errors import ConfigError

AZURE_SCHEMES = frozenset({"abfss", "abfs", "az", "azure", "adl"})
EMULATOR_ACCOUNT = "devstoreaccount1"
# Azurite's published development key (its README): public, so it may be written as is.
EMULATOR_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
ACCOUNT_ENV = "AZURE_STORAGE_ACCOUNT_NAME"

# object_store's AzureConfigKey: canonical name -> every alias from_str accepts.
AZURE_KEYS: dict[str, tuple[str, ...]] = {
    "azure_storage_account_name": ("account_name",),
    "azure_storage_account_key": (
        "azure_storage_access_key",
        "azure_storage_master_key",
        "master_key",
        "account_key",
        "access_key",
    ),
    "azure_storage_client_id": ("azure_client_id", "client_id"),
    "azure_storage_client_secret": ("azure_client_secret", "client_secret"),
    "azure_storage_tenant_id": (
        "azure_storage_authority_id",
        "azure_tenant_id",
        "azure_authority_id",
        "tenant_id",
        "authority_id",
    ),
    "azure_storage_authority_host": ("azure_authority_host", "authority_host"),
    "azure_storage_sas_key": ("azure_storage_sas_token", "sas_key", "sas_token"),
    "azure_storage_token": ("bearer_token", "token"),
    "azure_storage_use_emulator": ("use_emulator",),
    "azure_storage_endpoint": ("azure_endpoint", "endpoint"),
    "azure_use_fabric_endpoint": ("use_fabric_endpoint",),
    "azure_msi_endpoint": ("azure_identity_endpoint", "identity_endpoint", "msi_endpoint"),
    "azure_object_id": ("object_id",),
    "azure_msi_resource_id": ("msi_resource_id",),
    "azure_federated_token_file": ("federated_token_file",),
    "azure_use_azure_cli": ("use_azure_cli",),
    "azure_skip_signature": ("skip_signature",),
    "azure_container_name": ("container_name",),
    "azure_disable_tagging": ("disable_tagging",),
    "azure_fabric_token_service_url": ("fabric_token_service_url",),
    "azure_fabric_workload_host": ("fabric_workload_host",),
    "azure_fabric_session_token": ("fabric_session_token",),
    "azure_fabric_cluster_identifier": ("fabric_cluster_identifier",),
}
# object_store's ClientConfigKey (accepted bare or with `azure_`).
CLIENT_KEYS = (
    "allow_http",
    "allow_invalid_certificates",
    "connect_timeout",
    "default_content_type",
    "http1_only",
    "http2_only",
    "http2_keep_alive_interval",
    "http2_keep_alive_timeout",
    "http2_keep_alive_while_idle",
    "http2_max_frame_size",
    "pool_idle_timeout",
    "pool_max_idle_per_host",
    "proxy_url",
    "proxy_ca_certificate",
    "proxy_excludes",
    "randomize_addresses",
    "timeout",
    "user_agent",
)
# deltalake's own retry settings of object-store requests.
DELTALAKE_KEYS = (
    "max_retries",
    "retry_timeout",
    "init_backoff",
    "max_backoff",
    "base",
    "backoff_config.init_backoff",
    "backoff_config.max_backoff",
    "backoff_config.base",
    "backoff.init_backoff",
    "backoff.max_backoff",
    "backoff.base",
)
# Options whose value is a credential: masked in every message, never shown in Dagster.
SECRET_KEYS = frozenset(
    {
        "azure_storage_account_key",
        "azure_storage_client_secret",
        "azure_storage_sas_key",
        "azure_storage_token",
        "azure_fabric_session_token",
    }
)
BOOLEAN_KEYS = frozenset(
    {
        "azure_storage_use_emulator",
        "azure_use_fabric_endpoint",
        "azure_use_azure_cli",
        "azure_skip_signature",
        "azure_disable_tagging",
        "allow_http",
        "allow_invalid_certificates",
        "http1_only",
        "http2_only",
        "http2_keep_alive_while_idle",
        "randomize_addresses",
    }
)
BOOLEAN_VALUES = frozenset({"true", "false", "1", "0", "yes", "no", "on", "off", "y", "n"})
TRUE_VALUES = frozenset({"true", "1", "yes", "on", "y"})
# Hosts whose user part is the container and first label the account (object_store's rules).
_ACCOUNT_HOST = re.compile(
    r"^(?P<account>[^.]+)\.(?:dfs|blob)\.(?:core\.windows\.net|fabric\.microsoft\.com)$",
    re.IGNORECASE,
)


def _alias_table() -> dict[str, str]:
    names: dict[str, str] = {}
    for canonical, aliases in AZURE_KEYS.items():
        for name in (canonical, *aliases):
            names[name] = canonical
    for key in CLIENT_KEYS:
        names[key] = key
        names[f"azure_{key}"] = key
    for key in DELTALAKE_KEYS:
        names[key] = key
    return names


AZURE_NAMES: dict[str, str] = _alias_table()


def scheme_of(path: str) -> str:
    """Return the lower-case URI scheme of a bronze path ("" for a local folder)."""
    return path.split("://", 1)[0].lower() if "://" in path else ""


def is_azure(path: str) -> bool:
    """Return True when the bronze path is on Azure storage (abfss://, az://, …)."""
    return scheme_of(path) in AZURE_SCHEMES


def canonical_name(option: str) -> str | None:
    """Return the canonical name of an Azure storage option, or None when deltalake has none."""
    return AZURE_NAMES.get(option.lower())


def is_secret_option(option: str) -> bool:
    """Return True when an option (any alias, any case) holds a credential."""
    return canonical_name(option) in SECRET_KEYS


def check_secrets_from_env(options: Mapping[str, str], env_refs: Mapping[str, str]) -> None:
    """Refuse a credential written into the file instead of as `${VAR}`."""
    for name, value in options.items():
        written_as_variable = f"bronze.storage_options.{name}" in env_refs
        if is_secret_option(name) and not written_as_variable and value != EMULATOR_ACCOUNT_KEY:
            # A literal would reach Dagster as plain resource config, shown in its UI.
            raise ConfigError(
                f"bronze.storage_options.{name}: a credential must be written as ${{VAR}} "
                "(an environment variable), not into the file"
            )


def is_true(value: str) -> bool:
    """Return True for a value object_store reads as true."""
    return value.strip().lower() in TRUE_VALUES


@dataclass(frozen=True)
class AzureOptions:
    """Azure storage options checked against deltalake's names: canonical name -> given name."""

    given: dict[str, str]  # canonical -> the name as written in the file
    values: dict[str, str]  # canonical -> value (expanded)

    def value(self, canonical: str) -> str | None:
        """Return the value given for a canonical option name (under any alias)."""
        return self.values.get(canonical)


def check_azure_options(path: str, options: Mapping[str, str]) -> AzureOptions:
    """Return the options of an Azure bronze path; ConfigError names an unknown or bad one."""
    given: dict[str, str] = {}
    values: dict[str, str] = {}
    for name, value in options.items():
        canonical = canonical_name(name)
        where = f"bronze.storage_options.{name}"
        if canonical is None:
            raise ConfigError(
                f"{where}: unknown storage option for Azure (deltalake would ignore it); "
                "see docs/configuration.md for the names deltalake reads"
            )
        if canonical in given:
            raise ConfigError(
                f"{where}: the same setting as bronze.storage_options.{given[canonical]}; "
                "give it once"
            )
        if canonical in BOOLEAN_KEYS and value.strip().lower() not in BOOLEAN_VALUES:
            raise ConfigError(f"{where}: {value!r} is not true or false")
        given[canonical] = name
        values[canonical] = value
    checked = AzureOptions(given, values)
    if account_name(path, checked) is None and not os.environ.get(ACCOUNT_ENV):
        raise ConfigError(
            "bronze.storage_options: no storage account: give azure_storage_account_name, "
            "or a path abfss://<container>@<account>.dfs.core.windows.net/…"
        )
    return checked


def account_name(path: str, options: AzureOptions) -> str | None:
    """Return the storage account of an Azure path: its option, its URI host, the emulator's."""
    given = options.value("azure_storage_account_name")
    if given:
        return given
    host = uri_host(path)
    match = _ACCOUNT_HOST.match(host) if host else None
    if match:
        return match.group("account")
    emulator = options.value("azure_storage_use_emulator")
    if emulator is not None and is_true(emulator):
        return EMULATOR_ACCOUNT
    return None


def uri_host(path: str) -> str | None:
    """Return the host of a URI (without the `container@` part), or None."""
    if "://" not in path:
        return None
    authority = path.split("://", 1)[1].split("/", 1)[0]
    return authority.rsplit("@", 1)[-1] or None


def display_uri(uri: str) -> str:
    """Return a URI safe to show: no query string (a SAS) and no password."""
    shown = uri.split("?", 1)[0].split("#", 1)[0]
    if "://" not in shown:
        return shown
    scheme, rest = shown.split("://", 1)
    authority, _, tail = rest.partition("/")
    if "@" in authority:
        user, host = authority.rsplit("@", 1)
        if ":" in user:  # user:password@host
            authority = f"{user.split(':', 1)[0]}:***@{host}"
    return f"{scheme}://{authority}/{tail}" if tail else f"{scheme}://{authority}"
