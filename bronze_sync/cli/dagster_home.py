"""The Dagster home every command (and `bronze-sync ui`) uses: one instance the UI shows.

$DAGSTER_HOME when set; otherwise `.dagster/` in the current directory, created on first use
with the project's instance settings (dagster.yaml). So `bronze-sync demo` followed by
`bronze-sync ui` in the same folder shows the demo's runs, partitions and checks.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import bronze_sync
from bronze_sync.errors import ConfigError

LOCK_FILE = ".bronze_sync.lock"
DEFAULT_HOME = ".dagster"
HOME_ENV = "DAGSTER_HOME"


def instance_settings() -> Path:
    """Return the project's dagster.yaml: packaged with a wheel, or the repository's."""
    package = Path(bronze_sync.__file__).parent
    for candidate in (package / "_instance" / "dagster.yaml", package.parent / "dagster.yaml"):
        if candidate.exists():
            return candidate
    raise ConfigError("the instance settings are missing (expected dagster.yaml)")


def dagster_home() -> Path:
    """Return the Dagster home to use, creating the default one; export it as DAGSTER_HOME.

    Exporting it makes the step processes, `dagster dev` started by `bronze-sync ui`, and
    jobs reconstructed from the code location all use the same instance.
    """
    value = os.environ.get(HOME_ENV)
    if value:
        home = Path(value).expanduser()
        if not home.is_dir():
            raise ConfigError(f"DAGSTER_HOME: {value} is not a folder (create it, or unset it)")
        return home
    home = Path.cwd() / DEFAULT_HOME
    home.mkdir(exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists():
        shutil.copyfile(instance_settings(), settings)
    os.environ[HOME_ENV] = str(home)
    return home


def log_file(home: Path) -> Path:
    """Return the file Dagster's console output goes to when the terminal does not show it."""
    folder = home / "logs"
    folder.mkdir(exist_ok=True)
    return folder / "bronze-sync.log"


@contextlib.contextmanager
def home_lock(home: Path) -> Iterator[None]:
    """Hold an exclusive lock on `home` for the block.

    Dagster creates a fresh home's SQLite schemas on first use without coordination: two
    first runs at once collide ("table ... already exists", two alembic heads).
    """
    with open(home / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
