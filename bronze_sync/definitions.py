"""The Dagster code location (workspace.yaml points here): a thin entry point, nothing more."""

from __future__ import annotations

from bronze_sync.defs.location import load_definitions

defs = load_definitions()

__all__ = ["defs", "load_definitions"]
