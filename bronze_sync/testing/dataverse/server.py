"""`DataverseEmulator`: a local HTTPS Dataverse with identity, faults and a mutation API."""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from bronze_sync.testing.dataverse.handler import Handler
from bronze_sync.testing.dataverse.model import Entity, Store
from bronze_sync.testing.dataverse.tls import make_certificates, server_context


@dataclass(frozen=True)
class RequestRecord:
    """One API request the emulator answered (status 0: connection dropped)."""

    at: float
    method: str
    path: str
    status: int
    prefer: str = ""  # the request's Prefer header


class DataverseEmulator:
    """Serve in-memory entities over HTTPS like a Dataverse environment."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tenant_id: str = "00000000-0000-0000-0000-0000000000aa",
        client_id: str = "11111111-2222-3333-4444-555555555555",
        client_secret: str = "emulator-secret",
    ) -> None:
        self.host, self.port = host, port
        self.tenant_id, self.client_id, self.client_secret = tenant_id, client_id, client_secret
        self.user_id = str(uuid.uuid4())
        self.store = Store()
        self.tokens: set[str] = set()
        self.thumbprints: set[str] = set()
        self.denied: set[str] = set()
        self.latency = 0.0
        self.requests: list[RequestRecord] = []
        self.in_flight = self.max_in_flight = 0
        self._faults: deque[tuple[str, Any]] = deque()
        self._throttle: tuple[int, int, float] | None = None
        self._lock = threading.Lock()
        self._folder = tempfile.TemporaryDirectory(prefix="dataverse-emulator-")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> DataverseEmulator:
        """Generate the CA and certificate, bind the port and serve in a thread."""
        ca, cert, key = make_certificates(Path(self._folder.name), self.host)
        self.ca_file = str(ca)
        handler = type("BoundHandler", (Handler,), {"emulator": self})
        server = ThreadingHTTPServer((self.host, self.port), handler)
        server.daemon_threads = True
        server.socket = server_context(cert, key).wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the certificates."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._folder.cleanup()

    def __enter__(self) -> DataverseEmulator:
        return self.start() if self._server is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """Return `https://host:port`."""
        return f"https://{self.host}:{self.port}"

    @property
    def environment_url(self) -> str:
        """Return the environment URL a client configures."""
        return self.origin

    @property
    def authority_url(self) -> str:
        """Return the authority (identity endpoint) msal is pointed at."""
        return f"{self.origin}/{self.tenant_id}"

    def connection(self) -> dict[str, str]:
        """Return what a client needs to connect, by config key."""
        return {
            "environment_url": self.environment_url,
            "authority_url": self.authority_url,
            "ca_file": self.ca_file,
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }

    # -- identity -------------------------------------------------------------------------
    def check_client(self, client_id: str, secret: str | None, assertion: str | None) -> bool:
        """Return whether the client credentials are valid."""
        if client_id != self.client_id:
            return False
        if secret is not None:
            return secret == self.client_secret
        return assertion is not None and _assertion_thumbprint(assertion) in self.thumbprints

    def register_certificate(self, pem: bytes) -> str:
        """Accept client assertions signed for this certificate; return its SHA-1 thumbprint."""
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        cert = x509.load_pem_x509_certificate(pem)
        thumbprint = hashlib.sha1(cert.public_bytes(Encoding.DER)).hexdigest()
        self.thumbprints.add(thumbprint)
        return thumbprint

    def expire_tokens(self) -> None:
        """Invalidate every access token issued so far (the API answers 401)."""
        self.tokens.clear()

    # -- faults ---------------------------------------------------------------------------
    def throttle(self, after: int, count: int, retry_after: float = 1.0) -> None:
        """Answer 429 with Retry-After to `count` API requests once `after` more succeeded."""
        with self._lock:
            self._throttle = (after, count, retry_after)

    def fail(self, status: int = 503, count: int = 1) -> None:
        """Answer the next `count` API requests with `status`."""
        with self._lock:
            self._faults.extend([("status", status)] * count)

    def drop_connections(self, count: int = 1) -> None:
        """Cut the next `count` responses off in the middle of the page."""
        with self._lock:
            self._faults.extend([("drop", None)] * count)

    def next_fault(self) -> tuple[str, Any] | None:
        """Return the fault to inject into this request, if any (called by the handler)."""
        with self._lock:
            if self._throttle is not None:
                after, count, retry_after = self._throttle
                if after > 0:
                    self._throttle = (after - 1, count, retry_after)
                elif count > 0:
                    self._throttle = (0, count - 1, retry_after)
                    return ("throttle", retry_after)
                else:
                    self._throttle = None
            return self._faults.popleft() if self._faults else None

    def enter(self) -> None:
        """Count a request in flight."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        """Count a request done."""
        with self._lock:
            self.in_flight -= 1

    def log_request(self, method: str, path: str, status: int, prefer: str = "") -> None:
        """Remember an answered request."""
        with self._lock:
            self.requests.append(RequestRecord(time.monotonic(), method, path, status, prefer))

    def api_requests(self, contains: str = "") -> list[RequestRecord]:
        """Return the Web API requests whose path contains `contains`."""
        return [r for r in self.requests if "/api/data/" in r.path and contains in r.path]

    # -- data -----------------------------------------------------------------------------
    def add_entity(self, entity: Entity) -> Entity:
        """Serve `entity`."""
        return self.store.add(entity)

    def insert(
        self, name: str, rows: Iterable[dict[str, Any]], now: dt.datetime | None = None
    ) -> None:
        """Insert rows into entity `name` (createdon/modifiedon default to now)."""
        self.store.upsert(name, rows, now or dt.datetime.now(dt.UTC))

    def update(
        self, entity: str, key: str, /, now: dt.datetime | None = None, **values: Any
    ) -> None:
        """Update one row (modifiedon = now unless given)."""
        primary = self.store.entities[entity].primary_id
        self.store.upsert(entity, [{primary: key, **values}], now or dt.datetime.now(dt.UTC))

    def delete(self, name: str, keys: Iterable[str]) -> int:
        """Delete rows; change tracking reports them as `$deletedEntity`."""
        return self.store.delete(name, keys)

    def retain(self, name: str, keys: Iterable[str]) -> None:
        """Mark rows for long-term retention (msft_datastate = 1)."""
        for key in keys:
            self.update(name, key, msft_datastate=1)

    def remove_retained(self, name: str) -> int:
        """Move retained rows out of the live table (they vanish from the Web API)."""
        entity = self.store.entities[name]
        keys = [k for k, r in entity.rows.items() if r.get("msft_datastate") == 1]
        return self.store.delete(name, keys)

    def advance_versions(self, count: int = 1) -> int:
        """Move the change version on without changing rows; return the new version."""
        with self.store.lock:
            self.store.version += count
            return self.store.version

    def expire_change_tokens(self, name: str) -> None:
        """Make every delta token issued so far for `name` expired (error 0x80044352)."""
        with self.store.lock:
            self.store.version += 1  # tokens issued from now on stay valid
            self.store.min_token_version[name] = self.store.version

    def rows(self, name: str) -> dict[str, dict[str, Any]]:
        """Return a copy of the current rows of `name` by key."""
        with self.store.lock:
            return {k: dict(v) for k, v in self.store.entities[name].rows.items()}


def _assertion_thumbprint(assertion: str) -> str:
    """Return the hex SHA-1 thumbprint named by a client assertion's `x5t` header."""
    import base64
    import json

    header = assertion.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    return base64.urlsafe_b64decode(data.get("x5t", "") + "==").hex()
