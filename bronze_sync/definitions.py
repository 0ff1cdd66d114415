"""The Dagster code location (workspace.yaml points here)."""

from __future__ import annotations

import functools

import dagster as dg

from bronze_sync.config import load_config
from bronze_sync.defs import build_definitions


@functools.cache
def load_definitions() -> dg.Definitions:
    """Return the definitions for the configured YAML file ($BRONZE_SYNC_CONFIG or the demo)."""
    return build_definitions(load_config())


defs = load_definitions()
