"""The alert itself, its severity, and what delivers it (the log always does)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

log = logging.getLogger("bronze_sync.alerts")


class Severity(StrEnum):
    """How urgent an alert is."""

    CRITICAL = "CRITICAL"  # data integrity, rollback failure
    HIGH = "HIGH"  # a sync failed
    MEDIUM = "MEDIUM"  # warnings
    LOW = "LOW"  # for information: a rollback dry run, a resolved rule


@dataclass(frozen=True)
class Alert:
    """One message to operators."""

    severity: Severity
    subject: str
    body: str
    job: str | None = None
    run_id: str | None = None
    tables: tuple[str, ...] = ()
    error_class: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    first_steps: tuple[str, ...] = ()


class Notifier(Protocol):
    """Something that delivers alerts."""

    # object, not None: a notifier may report something (Dispatcher: whether it sent).
    def send(self, alert: Alert) -> object:
        """Deliver `alert`."""


class LogNotifier:
    """Deliver alerts to the Python log."""

    def send(self, alert: Alert) -> None:
        """Log `alert` at a level matching its severity."""
        levels = {Severity.MEDIUM: logging.WARNING, Severity.LOW: logging.INFO}
        level = levels.get(alert.severity, logging.ERROR)
        # `alert` rides along so that a terminal handler can render it (the CLI draws a panel).
        log.log(
            level,
            "[%s] %s\n%s",
            alert.severity.value,
            alert.subject,
            alert.body,
            extra={"alert": alert},
        )
