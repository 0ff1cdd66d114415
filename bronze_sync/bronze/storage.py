"""Where bronze and metadata Delta tables live, and how to open them."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from bronze_sync.config.models import BronzeConfig
from bronze_sync.errors import BronzeError

# What deltalake and Arrow raise for a damaged table: a bad log entry, a missing data file.
READ_ERRORS = (DeltaError, OSError, pa.ArrowException)
LOG_FILE = re.compile(r"_delta_log/\d{20}\.(?:json|checkpoint\.parquet)")
LOG_FILES_SCANNED = 1000


@dataclass(frozen=True)
class BronzeStore:
    """A bronze root (local folder or object-store URI) plus its storage options."""

    root: str
    storage_options: dict[str, str] = field(default_factory=dict)

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
        text = str(exc).strip()
        reason = text.splitlines()[0].strip() if text else type(exc).__name__
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
