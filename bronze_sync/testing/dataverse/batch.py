"""OData `$batch` (multipart/mixed) as Dataverse takes it: parse the parts, encode the answers.

A batch holds HTTP requests, each in a part of Content-Type `application/http`; the answer
is a multipart/mixed body with one `application/http` part per request, in order. The
emulator serves GET parts (what clients batch to fetch many definitions at once); a
change set (a nested multipart) or another method is refused in the answer's part.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_REQUEST_LINE = re.compile(r"^(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/1\.[01]$")


class BatchError(ValueError):
    """The batch request body cannot be read as multipart/mixed."""


@dataclass(frozen=True)
class BatchRequest:
    """One request of a batch: its method, target (absolute or relative) and headers."""

    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchAnswer:
    """One answer of a batch, in the order of the requests."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def parse_batch(content_type: str, body: bytes) -> list[BatchRequest]:
    """Return the requests of a multipart/mixed batch body; BatchError says what is wrong."""
    if not content_type.lower().startswith("multipart/mixed"):
        raise BatchError(
            f"The batch request's Content-Type must be multipart/mixed, not '{content_type}'."
        )
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise BatchError("The batch request's Content-Type has no boundary parameter.")
    delimiter = "--" + found.group(1)
    text = body.decode("utf-8", errors="replace").replace("\r\n", "\n")
    if delimiter + "--" not in text:
        raise BatchError(f"The batch body does not end with the boundary '{delimiter}--'.")
    parts = text.split(delimiter + "--", 1)[0].split(delimiter)[1:]
    if not parts:
        raise BatchError("The batch body holds no request.")
    return [_request(part.strip("\n")) for part in parts]


def encode_batch(answers: list[BatchAnswer]) -> tuple[str, bytes]:
    """Return the Content-Type and body of a batch answer holding `answers` in order."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    chunks = []
    for answer in answers:
        reason = HTTPStatus(answer.status).phrase
        head = [f"HTTP/1.1 {answer.status} {reason}", f"Content-Type: {answer.content_type}"]
        head += [f"{k}: {v}" for k, v in answer.headers.items()]
        chunks.append(
            f"--{boundary}\r\nContent-Type: application/http\r\n"
            "Content-Transfer-Encoding: binary\r\n\r\n" + "\r\n".join(head) + "\r\n\r\n"
        )
        chunks.append(answer.body.decode("utf-8") + "\r\n")
    chunks.append(f"--{boundary}--\r\n")
    return f"multipart/mixed; boundary={boundary}", "".join(chunks).encode()


def _request(part: str) -> BatchRequest:
    envelope, _, inner = part.partition("\n\n")
    part_type = _headers(envelope.splitlines()).get("content-type", "")
    if part_type.lower().startswith("multipart/mixed"):
        return BatchRequest("CHANGESET", "")
    if not part_type.lower().startswith("application/http"):
        raise BatchError(f"A batch part has Content-Type '{part_type}', not application/http.")
    head, _, _ = inner.partition("\n\n")
    lines = head.splitlines()
    match = _REQUEST_LINE.match(lines[0].strip()) if lines else None
    if match is None:
        first = lines[0] if lines else ""
        raise BatchError(f"A batch part does not start with an HTTP request line: '{first}'.")
    return BatchRequest(match.group(1), match.group(2), _headers(lines[1:]))


def _headers(lines: list[str]) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in lines if ":" in line)
    return {name.strip().lower(): value.strip() for name, value in pairs}
