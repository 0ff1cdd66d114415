"""The HTTP side of the emulator: identity endpoints, metadata, entity sets, faults."""

from __future__ import annotations

import email.message
import json
import re
import secrets
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from bronze_sync.testing.dataverse.batch import (
    BatchAnswer,
    BatchError,
    BatchRequest,
    encode_batch,
    parse_batch,
)
from bronze_sync.testing.dataverse.definitions import (
    attributes_of,
    csdl,
    entity_definitions,
    find_entity,
    record_counts,
    service_document,
)
from bronze_sync.testing.dataverse.odata import ODataError, encode_object
from bronze_sync.testing.dataverse.queries import MAX_PAGE_SIZE, Query, run_query
from bronze_sync.testing.dataverse.rows_json import parse_annotations

if TYPE_CHECKING:
    from bronze_sync.testing.dataverse.server import DataverseEmulator

API = "/api/data/v9.2"
_RECORD_COUNT = re.compile(r"^RetrieveTotalRecordCount\(EntityNames=\[(.*)\]\)$")
_ROW_KEY = re.compile(r"^(\w+)\(([0-9a-fA-F-]{36})\)$")
_ENTITY_DEF = re.compile(
    r"^EntityDefinitions(?:\(([^)]*)\))?(/Attributes(?:/Microsoft\.Dynamics\.CRM\.(\w+))?)?$"
)


class Handler(BaseHTTPRequestHandler):
    """One connection to the emulator."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm the body of a small
    # answer waited for the client's delayed ACK (about 40 ms a request).
    disable_nagle_algorithm = True
    server_version = "DataverseEmulator/1.0"
    emulator: DataverseEmulator
    _captured: list[BatchAnswer] | None = None  # inside a $batch: answers are collected

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the request log is kept in memory."""

    # -- plumbing -------------------------------------------------------------------------
    def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        if self._captured is not None:
            kind = "application/json; odata.metadata=minimal"
            self._captured.append(BatchAnswer(status, kind, data, dict(headers or {})))
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json; odata.metadata=minimal")
        self.send_header("OData-Version", "4.0")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        self.emulator.log_request(self.command, self.path, status, self.headers.get("Prefer", ""))

    def _send_xml(self, body: str) -> None:
        data = body.encode()
        if self._captured is not None:
            self._captured.append(BatchAnswer(200, "application/xml", data))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("OData-Version", "4.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.emulator.log_request(self.command, self.path, 200, self.headers.get("Prefer", ""))

    def _error(self, status: int, code: str, message: str, **headers: str) -> None:
        self._send(status, json.dumps({"error": {"code": code, "message": message}}), headers)

    def _oauth_error(self, status: int, error: str, description: str) -> None:
        self._send(status, json.dumps({"error": error, "error_description": description}))

    def do_GET(self) -> None:
        """Serve identity discovery and the Web API."""
        path, _, query = self.path.partition("?")
        if path.endswith("/v2.0/.well-known/openid-configuration"):
            self._discovery(path.removesuffix("/v2.0/.well-known/openid-configuration"))
        elif path.startswith(API + "/"):
            self._api(urllib.parse.unquote(path[len(API) + 1 :]), query)
        else:
            self._error(404, "0x80060888", f"Resource not found for the segment '{path}'.")

    def do_POST(self) -> None:
        """Serve the token endpoint."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.split("?")[0] == API + "/$batch":
            self._batch(body)
        elif self.path.split("?")[0].endswith("/oauth2/v2.0/token"):
            self._token({k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()})
        else:
            self._error(405, "0x80060888", "Method not allowed.")

    # -- identity -------------------------------------------------------------------------
    def _discovery(self, authority_path: str) -> None:
        base = f"{self.emulator.origin}{authority_path}"
        body = {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "token"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        }
        self._send(200, json.dumps(body))

    def _token(self, form: dict[str, str]) -> None:
        emu = self.emulator
        if form.get("grant_type") != "client_credentials":
            return self._oauth_error(400, "unsupported_grant_type", "AADSTS70003: not supported.")
        client = form.get("client_id", "")
        if not emu.check_client(client, form.get("client_secret"), form.get("client_assertion")):
            return self._oauth_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
                f"in the request is the client secret value, not the client secret ID, for a "
                f"secret added to app '{client}'.",
            )
        token = secrets.token_urlsafe(24)
        emu.tokens.add(token)
        body = {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599}
        self._send(200, json.dumps({**body, "access_token": token}))

    # -- Web API --------------------------------------------------------------------------
    def _api(self, resource: str, query: str) -> None:
        emu = self.emulator
        emu.enter()
        try:
            if not self._authorized():
                return
            fault = emu.next_fault()
            if fault is not None:
                return self._fault(fault)
            self._route(resource, dict(urllib.parse.parse_qsl(query, keep_blank_values=True)))
        finally:
            emu.leave()

    def _batch(self, body: bytes) -> None:
        """Answer a $batch of GET requests with one multipart/mixed body."""
        if not self._authorized():
            return
        try:
            requests = parse_batch(self.headers.get("Content-Type", ""), body)
        except BatchError as exc:
            return self._error(400, "0x80048d19", str(exc))
        outer, answers = self.headers, list[BatchAnswer]()
        self._captured = answers
        try:
            for request in requests:
                self.headers = _message(request.headers)
                self._batch_part(request)
        finally:
            self.headers, self._captured = outer, None
        content_type, data = encode_batch(answers)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("OData-Version", "4.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.emulator.log_request(self.command, self.path, 200, self.headers.get("Prefer", ""))

    def _batch_part(self, request: BatchRequest) -> None:
        if request.method != "GET":
            what = "change sets" if request.method == "CHANGESET" else f"{request.method} parts"
            return self._error(405, "0x80060888", f"The emulator's $batch serves GET, not {what}.")
        target = urllib.parse.urlsplit(request.target)
        path, query = target.path, target.query
        resource = path.split(API + "/", 1)[1] if API + "/" in path else path.lstrip("/")
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        self._route(urllib.parse.unquote(resource), params)

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in self.emulator.tokens:
            return True
        self._error(
            401,
            "0x80072560",
            "The user is not a member of the organization." if auth else "Bearer token required.",
            **{"WWW-Authenticate": f'Bearer authorization_uri="{self.emulator.authority_url}"'},
        )
        return False

    def _fault(self, fault: tuple[str, Any]) -> None:
        kind, value = fault
        if kind == "throttle":
            self._error(
                429,
                "0x80072322",
                "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
                **{"Retry-After": str(value)},
            )
        elif kind == "drop":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b'{"value":[{"accountid":"')
            self.wfile.flush()
            self.emulator.log_request(self.command, self.path, 0)
            self.close_connection = True
        else:
            self._error(int(value), "0x80040216", "An unexpected error occurred.")

    def _route(self, resource: str, params: dict[str, str]) -> None:
        match = _ENTITY_DEF.match(resource)
        if match:
            return self._metadata(match.group(1), match.group(2), match.group(3), params)
        base = self.emulator.environment_url + API
        if resource == "":
            return self._send(200, json.dumps(service_document(self.emulator.store, base)))
        if resource == "$metadata":
            return self._send_xml(csdl(self.emulator.store))
        counting = _RECORD_COUNT.match(resource)
        if counting:
            try:
                body = record_counts(self.emulator.store, base, counting.group(1))
            except ODataError as exc:
                return self._error(404, exc.code, str(exc))
            return self._send(200, json.dumps(body))
        if resource == "WhoAmI":
            return self._send(200, json.dumps({"UserId": self.emulator.user_id}))
        by_key = _ROW_KEY.match(resource)
        if by_key:
            resource = by_key.group(1)
            params = {**params, "$filter": f"{by_key.group(2)}"}  # resolved below
        entity = self.emulator.store.by_set(resource)
        if entity is None:
            return self._error(
                404, "0x80060888", f"Resource not found for the segment '{resource}'."
            )
        if entity.logical_name in self.emulator.denied:
            return self._error(
                403,
                "0x80040220",
                f"Principal user (Id={self.emulator.user_id}, type=8) is missing "
                f"prvRead{entity.logical_name} privilege on entity '{entity.logical_name}'.",
            )
        time.sleep(self.emulator.latency)
        if by_key:
            params["$filter"] = f"{entity.primary_id} eq {by_key.group(2)}"
        try:
            body, applied = run_query(self.emulator.store, entity, self._query(params))
        except ODataError as exc:
            return self._error(400, exc.code, str(exc))
        if by_key:
            return self._one_row(entity.logical_name, by_key.group(2), body)
        self._send(200, encode_object(body), {"Preference-Applied": ",".join(applied)})

    def _one_row(self, logical_name: str, row_id: str, body: dict[str, Any]) -> None:
        """Answer `set(id)`: the row itself, or Dataverse's 404 when there is none."""
        if not body["value"]:
            message = f"{logical_name} With Id = {row_id} Does Not Exist"
            return self._error(404, "0x80040217", message)
        context = body["@odata.context"].replace("(", "/$entity(", 1)
        row = body["value"][0]
        if isinstance(row, dict):
            return self._send(200, encode_object({"@odata.context": context, **row}))
        # A cached row is its JSON text: put the context in front of its properties.
        rest = "}" if row.strip() == "{}" else "," + row.strip()[1:]
        self._send(200, '{"@odata.context":' + json.dumps(context) + rest)

    def _query(self, params: dict[str, str]) -> Query:
        prefer = self.headers.get("Prefer", "")
        size = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        return Query(
            params=params,
            page_size=min(int(size.group(1)), MAX_PAGE_SIZE) if size else MAX_PAGE_SIZE,
            track_changes="odata.track-changes" in prefer,
            annotations=parse_annotations(prefer),
            base_url=self.emulator.environment_url + API,
        )

    def _metadata(
        self, key: str | None, attributes: str | None, cast: str | None, params: dict[str, str]
    ) -> None:
        store, base = self.emulator.store, self.emulator.environment_url + API
        try:
            if not attributes:
                return self._send(200, json.dumps(entity_definitions(store, base, key, params)))
            if key is None:
                raise ODataError("Resource not found for the segment 'Attributes'.")
            entity = find_entity(store, key)
            values = attributes_of(entity, cast, params)
        except ODataError as exc:
            status = 404 if str(exc).startswith(("Could not find entity", "Resource")) else 400
            return self._error(status, exc.code, str(exc))
        context = f"{base}/$metadata#EntityDefinitions({key})/Attributes"
        self._send(200, json.dumps({"@odata.context": context, "value": values}))


def _message(headers: dict[str, str]) -> email.message.Message:
    """Return a batch part's headers as the request headers the handlers read."""
    message = email.message.Message()
    for name, value in headers.items():
        message[name] = value
    return message
