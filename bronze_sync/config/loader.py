"""Load the configuration file: YAML, `${VAR}` expansion, defaults, key-path errors."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bronze_sync.config.models import Config, TableSettings
from bronze_sync.config.pii_key import policy_keys
from bronze_sync.config.profiles import apply_profile, profile_from_env
from bronze_sync.config.storage_options import check_secrets_from_env, is_azure
from bronze_sync.errors import ConfigError

CONFIG_ENV = "BRONZE_SYNC_CONFIG"
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_WHOLE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TABLE_ONLY_KEYS = {"name", "source"}


def seeds_dir() -> Path:
    """Return the seeds folder: packaged with a wheel, or the repository's `seeds/`."""
    # Here, not in demo/: the default configuration lives there and config is a lower layer.
    package = Path(__file__).parent.parent
    for candidate in (package / "_seeds", package.parent / "seeds"):
        if (candidate / "demo_config.yaml").exists():
            return candidate
    raise ConfigError("the demo seeds are missing (expected seeds/demo_config.yaml)")


def default_config_path() -> Path:
    """Return the bundled demo configuration file."""
    return seeds_dir() / "demo_config.yaml"


def resolve_config_path(path: str | os.PathLike[str] | None) -> Path:
    """Return `path`, else $BRONZE_SYNC_CONFIG, else the bundled demo config."""
    if path:
        return Path(path)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return default_config_path()


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    profile: str | None = None,
) -> Config:
    """Load, expand and validate a configuration file (`profile`, else $BRONZE_SYNC_PROFILE)."""
    file = resolve_config_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {file}: {exc.strerror}") from None
    env = os.environ if env is None else env
    config = parse_config(text, env=env, origin=str(file), profile=profile)
    config._file = str(file.resolve())
    return config


def parse_config(
    text: str, env: Mapping[str, str], origin: str = "<config>", profile: str | None = None
) -> Config:
    """Parse YAML text into a validated Config; every error names `origin` and the key path.

    `profile` (else $BRONZE_SYNC_PROFILE in `env`) selects the `profiles:` entry merged over
    the file's top level.
    """
    name = (profile.strip() or None) if profile is not None else profile_from_env(env)
    try:
        return _parse(text, env, name)
    except ConfigError as exc:
        where = f"{origin} (profile {name})" if name else origin
        raise ConfigError(f"{where}: {exc}") from None


def _parse(text: str, env: Mapping[str, str], profile: str | None) -> Config:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"malformed YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError("the file must hold a mapping with source, bronze, tables")
    raw = apply_profile(raw, profile)
    env_refs: dict[str, str] = {}
    expanded = _expand(raw, env, "", env_refs)
    merged = _apply_defaults(expanded)
    try:
        config = Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, expanded)) from None
    _check_unique_names(config)
    _check_pii_key(config, env)
    if is_azure(config.bronze.path):
        check_secrets_from_env(config.bronze.storage_options, env_refs)
    config._env_refs = env_refs
    config._raw = raw
    config._profile = profile
    return config


def _check_pii_key(config: Config, env: Mapping[str, str]) -> None:
    """Refuse at load, not mid-sync, a pii hash or tokenize without a usable key."""
    for table in config.tables:
        policy_keys(env, table.name, table.pii.values())


def expand_value(value: str, env: Mapping[str, str], path: str) -> str:
    """Expand `${VAR}` / `${VAR:-default}` in one configuration string."""
    expanded: str = _expand(value, env, path, {})
    return expanded


def _expand(value: Any, env: Mapping[str, str], path: str, refs: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, env, _join(path, str(k)), refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, f"{path}[{i}]", refs) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    whole = _WHOLE_VAR.fullmatch(value)
    if whole:
        refs[path] = whole.group(1)

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"{path}: environment variable {name} is not set")

    return _VAR.sub(substitute, value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _apply_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError("defaults: must be a mapping of table settings")
    allowed = set(TableSettings.model_fields)
    for key in defaults:
        if key not in allowed:
            hint = " (it belongs to each table)" if key in _TABLE_ONLY_KEYS else ""
            raise ConfigError(f"defaults.{key}: unknown setting{hint}")
    if raw.get("spark") is not None and "spark" not in defaults:
        # The shared Spark Connect endpoint (ARCHITECTURE §12): every table's, unless its own.
        defaults = {**defaults, "spark": raw["spark"]}
    tables = raw.get("tables")
    if not isinstance(tables, list):
        return raw
    merged_tables = [
        {**defaults, **table} if isinstance(table, dict) else table for table in tables
    ]
    return {**raw, "tables": merged_tables}


def _describe(exc: ValidationError, raw: dict[str, Any]) -> str:
    lines = []
    for error in exc.errors():
        loc = list(error["loc"])
        path = _format_loc(loc, raw)
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "required"
        elif error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "union_tag_invalid":
            path = f"{path}.kind"
            message = f"{_kind(raw)!r} is not a source kind ({error['ctx']['expected_tags']})"
        line = f"{path}: {message}"
        if line not in lines:
            lines.append(line)
    if len(lines) == 1:
        return lines[0]
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _format_loc(loc: list[Any], raw: dict[str, Any]) -> str:
    # Discriminated unions add the tag ("sql") to the location; it is not a key in the file.
    if len(loc) >= 2 and loc[0] == "source" and isinstance(loc[1], str) and loc[1] == _kind(raw):
        loc = [loc[0], *loc[2:]]
    if len(loc) >= 3 and loc[0] == "tables" and isinstance(loc[1], int):
        table = raw["tables"][loc[1]] if loc[1] < len(raw.get("tables", [])) else {}
        key = loc[2]
        if isinstance(table, dict) and key not in table and key in (raw.get("defaults") or {}):
            return f"defaults.{key} (applied to tables[{loc[1]}])"
        if isinstance(table, dict) and key == "spark" and key not in table and "spark" in raw:
            loc = loc[2:]  # the shared block's own fault, reported once under its own path
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _kind(raw: dict[str, Any]) -> str | None:
    source = raw.get("source")
    return source.get("kind") if isinstance(source, dict) else None


def _check_unique_names(config: Config) -> None:
    seen: dict[str, int] = {}
    for i, table in enumerate(config.tables):
        if table.name in seen:
            raise ConfigError(
                f"tables[{i}].name: {table.name!r} is already used by tables[{seen[table.name]}]"
            )
        seen[table.name] = i
