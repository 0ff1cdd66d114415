"""Environment profiles: one configuration file, a `profiles:` overlay per environment.

A profile's mapping is deep-merged over the file's top level: mappings merge key by key,
anything else (a value, a list, null) replaces. `tables:` in a profile is either a list,
which replaces the file's tables, or a mapping of table name to settings merged over that
table. The profile comes from `--profile` (the CLI exports it) or $BRONZE_SYNC_PROFILE.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bronze_sync.errors import ConfigError

PROFILE_ENV = "BRONZE_SYNC_PROFILE"
PROFILES_KEY = "profiles"


def profile_from_env(env: Mapping[str, str]) -> str | None:
    """Return the profile $BRONZE_SYNC_PROFILE selects (None when unset or empty)."""
    return (env.get(PROFILE_ENV) or "").strip() or None


def profile_names(raw: Mapping[str, Any]) -> list[str]:
    """Return the profiles a parsed file declares, in file order."""
    profiles = raw.get(PROFILES_KEY)
    return [str(name) for name in profiles] if isinstance(profiles, dict) else []


def apply_profile(raw: dict[str, Any], name: str | None) -> dict[str, Any]:
    """Return the file's top level with profile `name` merged over it, without `profiles:`."""
    profiles = raw.get(PROFILES_KEY)
    base = {k: v for k, v in raw.items() if k != PROFILES_KEY}
    if profiles is not None:
        _check_profiles(profiles)
    if name is None:
        return base
    if not profiles:
        raise ConfigError(
            f"profile {name!r} was selected (--profile or ${PROFILE_ENV}) but the file has no "
            "profiles: section"
        )
    if name not in profiles:
        known = ", ".join(str(p) for p in profiles)
        raise ConfigError(f"unknown profile {name!r} (profiles in the file: {known})")
    overlay = profiles[name] or {}
    merged = deep_merge(base, {k: v for k, v in overlay.items() if k != "tables"})
    if "tables" in overlay:
        merged["tables"] = _overlay_tables(base.get("tables"), overlay["tables"], name)
    return merged


def _check_profiles(profiles: Any) -> None:
    if not isinstance(profiles, dict) or not profiles:
        raise ConfigError(f"{PROFILES_KEY}: must be a mapping of profile name to settings")
    for name, overlay in profiles.items():
        where = f"{PROFILES_KEY}.{name}"
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}: a profile name must be a non-empty string")
        if overlay is not None and not isinstance(overlay, dict):
            raise ConfigError(f"{where}: must be a mapping of settings to override")
        if isinstance(overlay, dict) and PROFILES_KEY in overlay:
            raise ConfigError(f"{where}.{PROFILES_KEY}: profiles cannot be nested")


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Return `base` with `overlay` merged in: mappings key by key, anything else replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def _overlay_tables(tables: Any, overlay: Any, profile: str) -> Any:
    if not isinstance(overlay, dict):
        return overlay  # a list replaces the file's tables; anything else fails validation
    where = f"{PROFILES_KEY}.{profile}.tables"
    if not isinstance(tables, list):
        raise ConfigError(f"{where}: overrides tables by name, but the file has no tables list")
    by_name = {t.get("name"): i for i, t in enumerate(tables) if isinstance(t, dict)}
    merged = list(tables)
    for name, settings in overlay.items():
        if name not in by_name:
            known = ", ".join(str(n) for n in by_name)
            raise ConfigError(f"{where}.{name}: no table of that name (configured: {known})")
        if not isinstance(settings, dict):
            raise ConfigError(f"{where}.{name}: must be a mapping of table settings")
        if "name" in settings and settings["name"] != name:
            raise ConfigError(f"{where}.{name}.name: a profile cannot rename a table")
        merged[by_name[name]] = deep_merge(tables[by_name[name]], settings)
    return merged
