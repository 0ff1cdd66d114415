"""Alerts: what every feature raises when an operator must act.

Features build an `Alert` and hand it to `notifier_for(config)`. Until transports are
configured, alerts go to the Python log (logger `bronze_sync.alerts`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bronze_sync.config.models import Config

log = logging.getLogger("bronze_sync.alerts")


class Severity(StrEnum):
    """How urgent an alert is."""

    CRITICAL = "CRITICAL"  # data integrity, rollback failure
    HIGH = "HIGH"  # a sync failed
    MEDIUM = "MEDIUM"  # warnings


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


class Notifier(Protocol):
    """Something that delivers alerts."""

    def send(self, alert: Alert) -> None:
        """Deliver `alert`."""


class LogNotifier:
    """Deliver alerts to the Python log."""

    def send(self, alert: Alert) -> None:
        """Log `alert` at a level matching its severity."""
        level = logging.ERROR if alert.severity != Severity.MEDIUM else logging.WARNING
        log.log(level, "[%s] %s\n%s", alert.severity.value, alert.subject, alert.body)


def notifier_for(config: Config) -> Notifier:
    """Return the notifier the configuration asks for."""
    return LogNotifier()
