"""Emulate Microsoft Entra ID's token endpoint for service principals, over local HTTPS.

A service principal (client id, client secret, tenant) gets storage tokens from
`{authority_host}/{tenant}/oauth2/v2.0/token` with the OAuth 2.0 client credentials grant;
object_store (deltalake) does this when given `azure_client_id`, `azure_client_secret`,
`azure_tenant_id` and, for another cloud or this emulator, `azure_authority_host`. The
emulator checks the client and its secret as Entra does and answers with Entra's error
shapes (`invalid_client` AADSTS7000215 for a wrong secret, `unauthorized_client`
AADSTS700016 for an unknown application, `invalid_request` AADSTS90002 for an unknown
tenant). Tokens are JWTs with Entra's v1 storage claims (issuer `https://sts.windows.net/
{tenant}/`, audience `https://storage.azure.com`), HS256-signed with a key of this process:
Azurite's `--oauth basic` checks their lifetime, issuer and audience, not the signature.

The endpoint runs in a child process (`start_entra`): deltalake holds the GIL while it opens
a table, so a server thread of the caller's process could not answer its token request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import multiprocessing
import secrets
import ssl
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from bronze_sync.testing.children import default_signals, stop_child

STORAGE_SCOPE = "https://storage.azure.com/.default"
STORAGE_AUDIENCE = "https://storage.azure.com"
TOKEN_SECONDS = 3599
STATS_PATH = "/_emulator/stats"  # not Entra's: what the tests ask the emulator
START_TIMEOUT = 30.0


@dataclass
class EntraEmulator:
    """A running token endpoint: its tenant, registered applications and requests served."""

    tenant: str
    applications: dict[str, str] = field(repr=False)  # client id -> client secret
    issued: int = 0  # tokens handed out
    refused: list[str] = field(default_factory=list)  # the AADSTS codes of refused requests
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def token_for(self, client_id: str, now: int | None = None) -> str:
        """Return a storage access token for `client_id`, valid for TOKEN_SECONDS."""
        issued_at = int(time.time()) if now is None else now
        claims = {
            "aud": STORAGE_AUDIENCE,
            "iss": f"https://sts.windows.net/{self.tenant}/",
            "iat": issued_at,
            "nbf": issued_at - 300,
            "exp": issued_at + TOKEN_SECONDS,
            "appid": client_id,
            "tid": self.tenant,
            "oid": client_id,
            "ver": "1.0",
        }
        head = _b64({"typ": "JWT", "alg": "HS256"}) + "." + _b64(claims)
        signature = hmac.new(self._key, head.encode(), hashlib.sha256).digest()
        return head + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Return the status and JSON body Entra gives a token request."""
        parts = path.split("?")[0].strip("/").split("/")
        if parts[1:] != ["oauth2", "v2.0", "token"]:
            return 404, {"error": "not_found", "error_description": f"no endpoint {path}"}
        if parts[0] != self.tenant:
            return self._refuse(400, "invalid_request", "AADSTS90002", f"Tenant '{parts[0]}'")
        if form.get("grant_type") != "client_credentials" or form.get("scope") != STORAGE_SCOPE:
            return self._refuse(400, "invalid_request", "AADSTS900144", "grant or scope")
        client = form.get("client_id", "")
        if client not in self.applications:
            return self._refuse(400, "unauthorized_client", "AADSTS700016", f"App '{client}'")
        if not hmac.compare_digest(self.applications[client], form.get("client_secret", "")):
            return self._refuse(401, "invalid_client", "AADSTS7000215", "Invalid client secret")
        self.issued += 1
        token = self.token_for(client)
        return 200, {"token_type": "Bearer", "expires_in": TOKEN_SECONDS, "access_token": token}

    def _refuse(self, status: int, error: str, code: str, what: str) -> tuple[int, dict[str, Any]]:
        self.refused.append(code)
        return status, {"error": error, "error_description": f"{code}: {what} was refused."}


@dataclass
class EntraProcess:
    """The token endpoint serving from a child process, as its clients and tests see it."""

    authority_host: str  # what clients put in `azure_authority_host`
    ca: Path
    process: multiprocessing.process.BaseProcess = field(repr=False)

    def stats(self) -> dict[str, Any]:
        """Return how many tokens were issued and the AADSTS codes of refused requests."""
        context = ssl.create_default_context(cafile=self.ca)
        with urllib.request.urlopen(self.authority_host + STATS_PATH, context=context) as reply:
            stats: dict[str, Any] = json.load(reply)
        return stats

    def issued(self) -> int:
        """Return how many tokens were issued so far."""
        return int(self.stats()["issued"])

    def refused(self) -> list[str]:
        """Return the AADSTS codes of the requests refused so far, oldest first."""
        return list(self.stats()["refused"])

    def stop(self) -> None:
        """Stop the child process (killed if it ignores SIGTERM)."""
        stop_child(self.process)


class TlsServer(ThreadingHTTPServer):
    """An HTTPS server that does each TLS handshake in the request's thread.

    Wrapping the listening socket would do handshakes in the accept loop, where one client
    that connects and waits (a pooled, speculative connection) stalls every other one.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any, context: ssl.SSLContext) -> None:
        super().__init__(address, handler)
        self.context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Shake hands over TLS, then serve the request."""
        with self.context.wrap_socket(request, server_side=True) as tls:
            super().finish_request(tls, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Drop a failed connection quietly: clients see its status, tests read stderr."""


def start_entra(
    tenant: str, applications: dict[str, str], tls: tuple[Path, Path, Path]
) -> EntraProcess:
    """Serve the token endpoint over HTTPS on a free port of 127.0.0.1, in a child process.

    `tls` is (CA, certificate, key); secrets reach the child through a pipe, not its argv.
    """
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(
        target=_serve, args=(child, tenant, dict(applications), tls[1], tls[2]), daemon=True
    )
    process.start()
    child.close()
    if not parent.poll(START_TIMEOUT):
        process.terminate()
        raise RuntimeError(f"the Entra ID emulator did not start within {START_TIMEOUT:.0f} s")
    port = parent.recv()
    return EntraProcess(f"https://127.0.0.1:{port}", tls[0], process)


def _serve(conn: Connection, tenant: str, apps: dict[str, str], cert: Path, key: Path) -> None:
    default_signals()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = TlsServer(("127.0.0.1", 0), _handler(EntraEmulator(tenant, apps)), context)
    conn.send(server.server_address[1])
    conn.close()
    server.serve_forever()


def _handler(emulator: EntraEmulator) -> type[BaseHTTPRequestHandler]:
    class TokenHandler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Log nothing: a request line holds no secret, but tests read stderr."""

        def do_GET(self) -> None:
            if self.path != STATS_PATH:
                self._reply(404, {"error": "not_found"})
                return
            self._reply(200, {"issued": emulator.issued, "refused": emulator.refused})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            fields = parse_qs(self.rfile.read(length).decode())
            form = {name: values[0] for name, values in fields.items()}
            self._reply(*emulator.answer(self.path, form))

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return TokenHandler


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
