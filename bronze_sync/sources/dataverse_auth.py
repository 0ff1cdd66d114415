"""Access tokens for the Dataverse Web API from msal (client secret or certificate)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import requests

from bronze_sync.config.connections import DataverseSourceConfig
from bronze_sync.errors import ConfigError, SourceError, SourceUnavailableError
from bronze_sync.redact import Redactor

log = logging.getLogger(__name__)
PUBLIC_AUTHORITY = "https://login.microsoftonline.com"


class AuthenticationError(SourceError):
    """The identity platform refused the configured credentials."""


def make_session(config: DataverseSourceConfig) -> requests.Session:
    """Return the HTTP session for identity and API calls (trusting `ca_file` when set).

    `trust_env` is off so REQUESTS_CA_BUNDLE and proxies from the environment cannot override
    the configured trust; without `ca_file` the system's default bundle applies.
    """
    session = requests.Session()
    if config.ca_file:
        session.trust_env = False
        session.verify = config.ca_file
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(10, config.max_concurrent_requests))
    session.mount("https://", adapter)
    return session


class TokenProvider:
    """Acquire and cache the app-only token for `{environment_url}/.default`."""

    def __init__(self, config: DataverseSourceConfig, session: requests.Session) -> None:
        self._config = config
        self._session = session
        self._scope = [config.environment_url.rstrip("/") + "/.default"]
        self._redact = Redactor([config.client_secret])
        self._app: Any = None
        self._lock = threading.Lock()

    def _application(self) -> Any:
        import msal

        config = self._config
        authority = config.authority_url or f"{PUBLIC_AUTHORITY}/{config.tenant_id}"
        try:
            return msal.ConfidentialClientApplication(
                config.client_id,
                client_credential=self._credential(),
                authority=authority,
                http_client=self._session,
                instance_discovery=config.authority_url is None,
                timeout=config.request_timeout_seconds,
            )
        except requests.exceptions.SSLError as exc:
            raise SourceError(_tls_message(authority, exc)) from None
        except requests.exceptions.RequestException as exc:
            raise SourceUnavailableError(
                f"cannot reach the identity endpoint {authority}: {type(exc).__name__}"
            ) from None
        except ValueError as exc:
            raise AuthenticationError(
                f"authority {authority} is not usable: {self._redact(str(exc))}"
            ) from None

    def _credential(self) -> Any:
        config = self._config
        if config.client_secret:
            return config.client_secret
        path = Path(config.certificate_path or "")
        try:
            pem = path.read_text()
        except OSError as exc:
            raise ConfigError(
                f"source.certificate_path: cannot read {path}: {exc.strerror}"
            ) from None
        return {"private_key": pem, "thumbprint": config.certificate_thumbprint}

    def token(self, refresh: bool = False) -> str:
        """Return a bearer token; `refresh` drops the cached one first (after a 401)."""
        with self._lock:
            if self._app is None:
                self._app = self._application()
            if refresh:
                self._app.remove_tokens_for_client()
            try:
                result = self._app.acquire_token_for_client(scopes=self._scope)
            except requests.exceptions.SSLError as exc:
                raise SourceError(_tls_message(self._config.environment_url, exc)) from None
            except requests.exceptions.RequestException as exc:
                raise SourceUnavailableError(
                    f"cannot reach the identity endpoint: {type(exc).__name__}"
                ) from None
        if "access_token" in result:
            return str(result["access_token"])
        error = result.get("error", "unknown_error")
        detail = self._redact(str(result.get("error_description", "")).splitlines()[0][:300])
        raise AuthenticationError(
            f"Dataverse sign-in failed for client_id {self._config.client_id}: {error} "
            f"({detail}); check source.client_secret / certificate settings"
        )


def _tls_message(url: str, exc: Exception) -> str:
    reason = "certificate not trusted" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else "TLS error"
    return (
        f"TLS handshake with {url} failed ({reason}); for a private CA set source.ca_file "
        "to its PEM bundle"
    )
