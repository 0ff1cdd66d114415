"""The Dagster code location (workspace.yaml points here)."""

from __future__ import annotations

import functools

import dagster as dg

from bronze_sync.config import load_config, resolve_config_path
from bronze_sync.defs import build_definitions


def load_definitions() -> dg.Definitions:
    """Return the definitions for the configured YAML file ($BRONZE_SYNC_CONFIG or the demo)."""
    path = resolve_config_path(None).absolute()
    # Keyed by file and mtime: one process may run jobs of several configurations (CLI, tests).
    return _definitions_for(str(path), path.stat().st_mtime_ns if path.exists() else 0)


@functools.cache
def _definitions_for(path: str, mtime_ns: int) -> dg.Definitions:
    return build_definitions(load_config(path))


defs = load_definitions()
