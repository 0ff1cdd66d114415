"""The key of rollback approval tokens: the configured secret, else one generated per machine.

Without `rollback.approval_secret` the key used to be the empty string, so anyone who could
read the code could forge a token. Now a random secret is generated on first use and kept in
a private file: `$DAGSTER_HOME/.bronze_sync/approval_secret` when DAGSTER_HOME is set (the
Dagster daemon, the UI and the CLI of one deployment then share it), else
`${XDG_CONFIG_HOME:-~/.config}/bronze_sync/approval_secret`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import secrets
from pathlib import Path

from bronze_sync.errors import ConfigError

SECRET_FILE = "approval_secret"
PRIVATE = 0o077  # any permission bit for group or others
_GENERATED = re.compile(r"[0-9a-f]{64}")
# Filesystems without hard links answer these; the secret is then created in place.
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV}

log = logging.getLogger(__name__)


class ApprovalSecretError(ConfigError):
    """The generated approval secret's file is unsafe or unusable; nothing was changed."""


def approval_secret(configured: str) -> str:
    """Return the approval-token key: `rollback.approval_secret`, else this machine's own."""
    if configured:
        return configured
    path = secret_path()
    try:
        return _read_secret(path)
    except FileNotFoundError:
        _create_secret(path)
    return _read_secret(path)  # re-read: a concurrent first user may have won the race


def secret_path() -> Path:
    """Return the file that keeps the generated approval secret."""
    dagster_home = os.environ.get("DAGSTER_HOME")
    if dagster_home:
        return Path(dagster_home).expanduser() / ".bronze_sync" / SECRET_FILE
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".config"  # as the XDG spec says
    return base / "bronze_sync" / SECRET_FILE


def _read_secret(path: Path) -> str:
    """Return the secret kept at `path`; refuse a file that others can read or replace."""
    with open(path, encoding="ascii") as file:
        mode = os.fstat(file.fileno()).st_mode & 0o777
        if mode & PRIVATE:
            raise ApprovalSecretError(
                f"the approval secret file {path} is accessible by group/others (mode "
                f"{mode:03o}): anyone who reads it can approve rollbacks. Run `chmod 600 "
                f"{path}` (or set rollback.approval_secret)"
            )
        value = file.read().strip()
    if not _GENERATED.fullmatch(value):
        raise ApprovalSecretError(
            f"the approval secret file {path} does not hold a generated secret (64 hex "
            "characters); delete it to generate a new one (outstanding approval tokens then "
            "stop working)"
        )
    return value


def _create_secret(path: Path) -> None:
    """Create the secret file unless another process does first; never half-written."""
    folder = path.parent
    folder.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)  # only this folder is ours to make private
    value = secrets.token_hex(32)
    # Written in full to a private temp file, then hard-linked into place: the link is the
    # exclusive create (it fails when another process got there first), and no reader ever
    # sees an empty or partial secret, even if this process dies half-way.
    temp = folder / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    _write_exclusive(temp, value)
    try:
        os.link(temp, path)
    except FileExistsError:
        return
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        try:
            _write_exclusive(path, value)
        except FileExistsError:
            return
    finally:
        temp.unlink(missing_ok=True)
    log.info("generated the rollback approval secret in %s (mode 0600)", path)


def _write_exclusive(path: Path, value: str) -> None:
    """Write `value` to a new file (O_CREAT|O_EXCL, mode 0600); FileExistsError if taken."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(value + "\n")
        file.flush()
        os.fsync(file.fileno())
