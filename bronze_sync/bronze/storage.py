"""Where bronze and metadata Delta tables live, and how to open them."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable
from deltalake._internal import DeltaFileSystemHandler
from deltalake.exceptions import DeltaError

from bronze_sync.config.models import BronzeConfig
from bronze_sync.config.storage_options import display_uri, is_secret_option
from bronze_sync.errors import BronzeError
from bronze_sync.redact import Redactor

# What deltalake and Arrow raise for a damaged table: a bad log entry, a missing data file.
READ_ERRORS = (DeltaError, OSError, pa.ArrowException)
LOG_FILE = re.compile(r"_delta_log/\d{20}\.(?:json|checkpoint\.parquet)")
LOG_FILES_SCANNED = 1000
# What object stores answer, mapped to what the operator can do about it.
_AZURE_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")
_REFUSED = {
    "AuthenticationFailed",
    "AuthorizationFailure",
    "InvalidAuthenticationInfo",
    "NoAuthenticationInformation",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
}
_NO_PERMISSION = {
    "AuthorizationPermissionMismatch",
    "AuthorizationResourceTypeMismatch",
    "AuthorizationServiceMismatch",
    "InsufficientAccountPermissions",
    "AccessDenied",
}
_NO_CONTAINER = {"ContainerNotFound", "FilesystemNotFound", "NoSuchBucket"}
_UNREACHABLE = (
    "connection refused",
    "dns error",
    "error sending request",
    "failed to lookup address",
    "timed out",
    "connection reset",
    "tcp connect error",
)
_TOKEN_REQUEST = "error performing token request"
_ENTRA_CODE = re.compile(r"AADSTS\d+")
_SAS_SIGNATURE = re.compile(r"(sig=)[^&\s\"'<>]+", re.IGNORECASE)
PROBE_PREFIX = "_bronze_sync/probe-"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class BronzeStore:
    """A bronze root (local folder or object-store URI) plus its storage options."""

    root: str
    # Never in a repr: it holds credentials.
    storage_options: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(cls, config: BronzeConfig) -> BronzeStore:
        """Return the store a configuration describes; local paths become absolute."""
        root = config.path
        if config.is_local:
            root = str(Path(root.removeprefix("file://")).expanduser().absolute())
        return cls(root=root.rstrip("/"), storage_options=dict(config.storage_options))

    @property
    def is_local(self) -> bool:
        """Return True when the root is a local folder."""
        return "://" not in self.root

    def table_uri(self, name: str) -> str:
        """Return the URI of bronze table `name`."""
        return f"{self.root}/{name}"

    def metadata_uri(self, name: str) -> str:
        """Return the URI of metadata table `name`."""
        return f"{self.root}/metadata/{name}"

    def control_uri(self, name: str) -> str:
        """Return the URI of bronze_sync's own control object `name` (leases)."""
        return f"{self.root}/_bronze_sync/{name}"

    def exists(self, uri: str) -> bool:
        """Return True when a Delta table exists at `uri`."""
        return DeltaTable.is_deltatable(uri, storage_options=self.options())

    def open(self, uri: str, version: int | None = None) -> DeltaTable | None:
        """Return the Delta table at `uri` (at `version`), or None when there is none.

        A table that exists but cannot be loaded raises BronzeError naming it.
        """
        with self.reading(uri):
            if not self.exists(uri):
                return None
            return DeltaTable(uri, version=version, storage_options=self.options())

    @contextlib.contextmanager
    def reading(self, uri: str) -> Iterator[None]:
        """Turn deltalake and Arrow errors of the block into a BronzeError naming the table."""
        try:
            yield
        except READ_ERRORS as exc:
            raise self.read_error(uri, exc) from exc

    def read_error(self, uri: str, exc: BaseException) -> BronzeError:
        """Return the error for table `uri` that `exc` failed to read, naming a damaged log file."""
        text = self.redact(str(exc).strip())
        reason = text.splitlines()[0].strip() if text else type(exc).__name__
        if not self.is_local:
            problem = storage_problem(text)
            if problem:
                return BronzeError(
                    f"bronze storage {display_uri(uri)}: {problem}", table=self.table_name(uri)
                )
        named = LOG_FILE.search(text)
        damaged = named.group(0) if named else None
        if damaged is None and self.is_local and "json" in text.lower():
            damaged = first_unparsable_log_file(Path(uri))
        table = self.table_name(uri)
        if damaged:
            return BronzeError(f"Delta log file {damaged} is damaged ({reason})", table=table)
        return BronzeError(f"cannot read the Delta table at {uri} ({reason})", table=table)

    def table_name(self, uri: str) -> str:
        """Return the table's name under the root (`account`, `metadata/SyncAuditLog`)."""
        return uri.removeprefix(f"{self.root}/") if uri.startswith(f"{self.root}/") else uri

    def options(self) -> dict[str, str] | None:
        """Return the storage options deltalake expects (None for none)."""
        return dict(self.storage_options) or None

    def ensure_root(self) -> None:
        """Create the local root folder if needed."""
        if self.is_local:
            os.makedirs(self.root, exist_ok=True)

    @property
    def display_root(self) -> str:
        """Return the root as it may be shown: no SAS query string, no password."""
        return display_uri(self.root)

    def redact(self, text: str) -> str:
        """Return `text` with every credential of the storage options masked (and no colours)."""
        secrets = [v for k, v in self.storage_options.items() if is_secret_option(k)]
        return _SAS_SIGNATURE.sub(r"\1***", Redactor(secrets)(_ANSI.sub("", text)))

    def storage_error(self, action: str, exc: BaseException) -> BronzeError:
        """Return the one-line error for a failed `action` on the bronze root (no secrets)."""
        text = self.redact(str(exc).strip())
        problem = storage_problem(text) or _first_line(text) or type(exc).__name__
        return BronzeError(f"bronze storage {self.display_root}: cannot {action}: {problem}")

    def reworded(self, action: str, exc: BaseException) -> BaseException:
        """Return a one-line BronzeError for an object-store failure of `action`, else `exc`."""
        if self.is_local or isinstance(exc, BronzeError) or not isinstance(exc, READ_ERRORS):
            return exc
        problem = storage_problem(self.redact(str(exc)))
        if problem is None:
            return exc
        return BronzeError(f"bronze storage {self.display_root}: cannot {action}: {problem}")

    def check_access(self, write: bool = True) -> None:
        """Raise BronzeError when the object-store root cannot be listed (or written to).

        The write probe puts a small object under `_bronze_sync/` and deletes it again; a
        local root is checked by the preflight instead.
        """
        if self.is_local:
            return
        handler = self._handler()
        try:
            handler.get_file_info_selector("", allow_not_found=True, recursive=False)
        except Exception as exc:  # deltalake raises OSError, DeltaError or its own panics
            raise self.storage_error("list", exc) from None
        if not write:
            return
        probe = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
        try:
            _upload(handler, probe, b"bronze_sync write probe\n")
        except Exception as exc:
            raise self.storage_error("write", exc) from None
        with contextlib.suppress(Exception):
            handler.delete_file(probe)

    def write_object(self, relative: str, data: bytes) -> str:
        """Write `data` to `relative` under the root, whole or not at all; return its location.

        A local file is written beside and renamed into place; an object is uploaded in one
        stream and removed again if the upload fails, so no empty or partial file is left.
        """
        if self.is_local:
            path = os.path.join(self.root, relative)
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                _replace_file(path, data)
            except OSError as exc:
                raise BronzeError(f"cannot write {path}: {exc.strerror or exc}") from None
            return path
        handler = self._handler()
        try:
            _upload(handler, relative, data)
        except Exception as exc:
            with contextlib.suppress(Exception):
                handler.delete_file(relative)
            raise self.storage_error(f"write {relative}", exc) from None
        return f"{self.display_root}/{relative}"

    def _handler(self) -> DeltaFileSystemHandler:
        # deltalake's own object-store handler: the same options and credentials as its
        # tables. Not deltalake.fs.DeltaStorageHandler: its output streams refuse every write
        # ("'Buffer' object is not an instance of 'bytes'", deltalake 1.6).
        try:
            return DeltaFileSystemHandler(self.root, self.options())
        except Exception as exc:
            raise self.storage_error("open", exc) from None


def _upload(handler: DeltaFileSystemHandler, path: str, data: bytes) -> None:
    stream = handler.open_output_stream(path, None)
    stream.write(data)
    stream.close()  # type: ignore[attr-defined]  # the upload happens here; not in the stubs


def storage_problem(text: str) -> str | None:
    """Return what an object-store error text says is wrong, in the operator's words."""
    code = _AZURE_CODE.search(text)
    name = code.group(1) if code else ""
    lowered = text.lower()
    if _TOKEN_REQUEST in lowered and not any(marker in lowered for marker in _UNREACHABLE):
        entra = _ENTRA_CODE.search(text)
        return (
            f"Microsoft Entra ID refused the service principal's token request "
            f"({entra.group(0) if entra else _deepest_cause(text)}; check azure_client_id, "
            "azure_client_secret, azure_tenant_id and azure_authority_host)"
        )
    if name in _NO_PERMISSION:
        return f"the credentials may not do this here ({name}; e.g. a SAS without write permission)"
    if name in _REFUSED or " 401 " in text:
        which = name or "HTTP 401"
        return f"the storage refused the credentials ({which}; wrong account key, SAS or token)"
    if name in _NO_CONTAINER:
        return f"the container does not exist ({name})"
    if any(marker in lowered for marker in _UNREACHABLE):
        return "the storage endpoint cannot be reached (" + _deepest_cause(text) + ")"
    if "403 forbidden" in lowered:
        return "access denied (HTTP 403)"
    return None


def _deepest_cause(text: str) -> str:
    lines = [line.strip().lstrip("\u21b3 ") for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no answer"


def _first_line(text: str) -> str:
    return text.splitlines()[0].strip() if text else ""


def _replace_file(path: str, data: bytes) -> None:
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def first_unparsable_log_file(table: Path) -> str | None:
    """Return `_delta_log/<n>.json` of the newest commit file that is not valid JSON lines."""
    log = table / "_delta_log"
    try:
        files = sorted(log.glob("[0-9]" * 20 + ".json"), reverse=True)[:LOG_FILES_SCANNED]
    except OSError:
        return None
    for path in files:
        try:
            for line in path.read_text().splitlines():
                if line.strip():
                    json.loads(line)
        except (OSError, ValueError):
            return f"_delta_log/{path.name}"
    return None
