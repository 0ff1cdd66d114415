"""Where bronze and metadata Delta tables live, and how to open them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from deltalake import DeltaTable

from bronze_sync.config.models import BronzeConfig


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
        """Return the Delta table at `uri` (at `version`), or None when there is none."""
        if not self.exists(uri):
            return None
        return DeltaTable(uri, version=version, storage_options=self.options())

    def options(self) -> dict[str, str] | None:
        """Return the storage options deltalake expects (None for none)."""
        return dict(self.storage_options) or None

    def ensure_root(self) -> None:
        """Create the local root folder if needed."""
        if self.is_local:
            os.makedirs(self.root, exist_ok=True)
