"""Retry Delta commits that lost a race with another writer."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from deltalake.exceptions import CommitFailedError

from bronze_sync.errors import CommitConflictError

T = TypeVar("T")


def is_conflict(exc: BaseException) -> bool:
    """Return True when `exc` means a concurrent writer won the commit."""
    return isinstance(exc, CommitFailedError | CommitConflictError)


def retry_commit(
    operation: Callable[[], T],
    what: str,
    attempts: int = 12,
    base_delay: float = 0.05,
    max_delay: float = 2.0,
) -> T:
    """Run `operation`, retrying with jittered exponential back-off while commits conflict."""
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except Exception as exc:
            if not is_conflict(exc):
                raise
            if attempt == attempts:
                raise CommitConflictError(
                    f"{what}: still conflicting after {attempts} attempts: {exc}"
                ) from None
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
            time.sleep(delay * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")
