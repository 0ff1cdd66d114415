"""An HTTPS gateway in front of Azurite that adds the Blob API's `startFrom` listing parameter.

Azure's List Blobs takes `startFrom` (return names from this one on); Azurite ignores it.
object_store (deltalake) sends it whenever it is not in emulator mode, which is the only
mode where service-principal credentials are used, so a table with more than one version
would read a wrong log listing. The gateway forwards every request unchanged (the bearer
token included; nothing is re-signed) and drops the listed blobs before `startFrom` from
the answer, as Azure does. It runs in a child process, like the Entra emulator, because
deltalake holds the GIL while it opens a table.
"""

from __future__ import annotations

import http.client
import multiprocessing
import ssl
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bronze_sync.testing.children import default_signals, stop_child
from bronze_sync.testing.entra import START_TIMEOUT, TlsServer

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class BlobGateway:
    """The gateway serving from a child process: its Blob URL for `azure_storage_endpoint`."""

    url: str
    process: multiprocessing.process.BaseProcess = field(repr=False)

    def endpoint(self, account: str) -> str:
        """Return `account`'s Blob endpoint through the gateway."""
        return f"{self.url}/{account}"

    def stop(self) -> None:
        """Stop the child process (killed if it ignores SIGTERM)."""
        stop_child(self.process)


def start_gateway(upstream: str, tls: tuple[Path, Path, Path]) -> BlobGateway:
    """Serve HTTPS on a free port of 127.0.0.1, forwarding to Azurite at `upstream` (https)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(child, upstream, tls), daemon=True)
    process.start()
    child.close()
    if not parent.poll(START_TIMEOUT):
        process.terminate()
        raise RuntimeError(f"the Blob gateway did not start within {START_TIMEOUT:.0f} s")
    return BlobGateway(f"https://127.0.0.1:{parent.recv()}", process)


def keep_from(listing: bytes, start_from: str) -> bytes:
    """Return a List Blobs answer without the blobs whose names sort before `start_from`."""
    root = ET.fromstring(listing)
    blobs = root.find("Blobs")
    if blobs is not None:
        for blob in list(blobs):
            if (blob.findtext("Name") or "") < start_from:
                blobs.remove(blob)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _serve(conn: Connection, upstream: str, tls: tuple[Path, Path, Path]) -> None:
    default_signals()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tls[1], tls[2])
    target = urllib.parse.urlsplit(upstream)
    client_context = ssl.create_default_context(cafile=tls[0])
    handler = _handler(target.hostname or "127.0.0.1", target.port or 443, client_context)
    server = TlsServer(("127.0.0.1", 0), handler, server_context)
    conn.send(server.server_address[1])
    conn.close()
    server.serve_forever()


def _handler(host: str, port: int, context: ssl.SSLContext) -> type[BaseHTTPRequestHandler]:
    class GatewayHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as clients of Azure expect

        def log_message(self, format: str, *args: Any) -> None:
            """Log nothing: tests read stderr."""

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            if body is not None or self.command in ("PUT", "POST"):
                headers["Content-Length"] = str(length)
            upstream = http.client.HTTPSConnection(host, port, context=context, timeout=60)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                reply = upstream.getresponse()
                data = reply.read()
                answer = [(k, v) for k, v in reply.getheaders() if k.lower() not in _HOP_BY_HOP]
                size = reply.getheader("Content-Length") or "0"
                status = reply.status
            finally:
                upstream.close()
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            if status == 200 and query.get("comp") == ["list"] and "startFrom" in query:
                data = keep_from(data, query["startFrom"][0])
            self.send_response(status)
            for name, value in answer:
                self.send_header(name, value)
            # A HEAD answer has no body but tells the blob's size.
            self.send_header("Content-Length", size if self.command == "HEAD" else str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    return GatewayHandler
