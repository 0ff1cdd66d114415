"""Web API requests with service-protection handling: shared 429 back-off, retries, a cap."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import requests

from bronze_sync.config.connections import DataverseSourceConfig
from bronze_sync.errors import SourceError, SourceSchemaError, SourceUnavailableError
from bronze_sync.sources.dataverse_auth import AuthenticationError, TokenProvider, _tls_message

log = logging.getLogger(__name__)
RETRY_STATUSES = {502, 503, 504}
EXPIRED_TOKEN = "0x80044352"
MAX_BACKOFF = 60.0
T = TypeVar("T")


class ChangeTokenExpiredError(SourceError):
    """Dataverse no longer keeps the changes since a saved delta token."""


class PrivilegeError(SourceError):
    """The application user lacks a privilege on the entity."""


class DataverseHttp:
    """GET Web API resources as JSON with exact decimals, sharing back-off across threads."""

    def __init__(
        self, config: DataverseSourceConfig, session: requests.Session, tokens: TokenProvider
    ) -> None:
        self.config = config
        self.session = session
        self.tokens = tokens
        self.api = config.environment_url.rstrip("/") + "/api/data/v9.2"
        self.stats: Counter[str] = Counter()
        self._slots = threading.BoundedSemaphore(config.max_concurrent_requests)
        self._lock = threading.Lock()
        self._paused_until = 0.0

    def get(self, url: str, entity: str, prefer: str = "") -> tuple[dict[str, Any], str]:
        """Return the JSON body and Preference-Applied of GET `url` (absolute or API-relative)."""
        body: dict[str, Any]
        body, applied = self.get_decoded(url, entity, _json_body, prefer)
        return body, applied

    def get_decoded(
        self, url: str, entity: str, decode: Callable[[bytes], T], prefer: str = ""
    ) -> tuple[T, str]:
        """Return `decode(body)` and Preference-Applied of GET `url`.

        `decode` raises ValueError when the body is not whole: the request is retried.
        """
        if not url.startswith("https://"):
            url = f"{self.api}/{url}"
        retries, refreshed = 0, False
        while True:
            outcome = self._attempt(url, prefer, refreshed, entity, decode)
            if isinstance(outcome, tuple):
                return outcome
            if outcome == "unauthorized":
                if refreshed:
                    raise AuthenticationError(
                        "the Web API rejected a freshly issued token (401); is the application "
                        "user set up in the environment?",
                        table=entity,
                    )
                refreshed = True
                log.info("Dataverse %s: token rejected (401); refreshing it once", entity)
                continue
            retries += 1
            self.stats["retries"] += 1
            if retries > self.config.retry_budget:
                raise SourceUnavailableError(
                    f"Dataverse request gave up after {retries - 1} retries "
                    f"(retry_budget {self.config.retry_budget}); last: {outcome}",
                    table=entity,
                )
            delay = self._delay(retries, outcome)
            log.warning("Dataverse %s: retry %d in %.2fs after %s", entity, retries, delay, outcome)
            if not outcome.startswith("429"):
                time.sleep(delay)

    def _attempt(
        self, url: str, prefer: str, refresh: bool, entity: str, decode: Callable[[bytes], T]
    ) -> tuple[T, str] | str:
        """Send one request; return (body, applied), or why it should be retried."""
        token = self.tokens.token(refresh=refresh) if refresh else self.tokens.token()
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "OData-Version": "4.0",
            "OData-MaxVersion": "4.0",
        }
        if prefer:
            headers["Prefer"] = prefer
        with self._slots:
            self._wait_for_backoff()
            self.stats["requests"] += 1
            try:
                response = self.session.get(
                    url, headers=headers, timeout=self.config.request_timeout_seconds
                )
                content = response.content
            except requests.exceptions.SSLError as exc:
                raise SourceError(_tls_message(self.config.environment_url, exc)) from None
            except requests.exceptions.RequestException as exc:
                return f"connection error ({type(exc).__name__})"
        status = response.status_code
        if status == 200:
            try:
                body = decode(content)
            except ValueError:
                return "truncated response body"
            return body, response.headers.get("Preference-Applied", "")
        if status == 401:
            return "unauthorized"
        if status == 429:
            wait = _seconds(response.headers.get("Retry-After"))
            self._pause(wait)
            self.stats["throttled"] += 1
            return f"429 Too Many Requests (Retry-After {wait:g}s)"
        if status in RETRY_STATUSES:
            return f"{status} {response.reason}"
        raise _error(status, response.text, entity)

    def _pause(self, seconds: float) -> None:
        """Hold every request of this client for `seconds` (service protection back-off)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def _wait_for_backoff(self) -> None:
        while True:
            with self._lock:
                left = self._paused_until - time.monotonic()
            if left <= 0:
                return
            time.sleep(left)

    def _delay(self, retries: int, reason: str) -> float:
        if reason.startswith("429"):
            return max(0.0, self._paused_until - time.monotonic())
        base = self.config.retry_base_seconds * 2 ** (retries - 1)
        return min(MAX_BACKOFF, base) * random.uniform(0.5, 1.5)


def _json_body(content: bytes) -> dict[str, Any]:
    """Return a JSON body with exact decimals."""
    body: dict[str, Any] = json.loads(content, parse_float=Decimal)
    return body


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 5.0
    except ValueError:
        return 5.0


def _error(status: int, text: str, entity: str) -> SourceError:
    """Return the error for a non-retryable status, with Dataverse's code and message."""
    try:
        error = json.loads(text).get("error", {})
        code, message = error.get("code", ""), error.get("message", "")
    except (ValueError, AttributeError):
        code, message = "", text[:200]
    detail = f"{message} (HTTP {status}{', ' + code if code else ''})"
    if code == EXPIRED_TOKEN:
        return ChangeTokenExpiredError(f"change-tracking token expired: {detail}", table=entity)
    if status == 404:
        return SourceSchemaError(f"not found in the Dataverse environment: {detail}", table=entity)
    if status == 400 and "property named" in message:
        return SourceSchemaError(f"column not found: {detail}", table=entity)
    if status == 403:
        return PrivilegeError(f"the application user lacks a privilege: {detail}", table=entity)
    return SourceError(f"Dataverse refused the request: {detail}", table=entity)
