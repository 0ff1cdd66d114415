"""Alerts: what every feature raises when an operator must act.

Features build an `Alert` and hand it to `notifier_for(config)`: it always logs (logger
`bronze_sync.alerts`), and delivers through the webhook and email transports of the config's
`alerts:` section at most once per dedup window (AlertLog metadata table).
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
        level = logging.ERROR if alert.severity != Severity.MEDIUM else logging.WARNING
        # `alert` rides along so that a terminal handler can render it (the CLI draws a panel).
        log.log(
            level,
            "[%s] %s\n%s",
            alert.severity.value,
            alert.subject,
            alert.body,
            extra={"alert": alert},
        )


def notifier_for(config: Config) -> Notifier:
    """Return the notifier the configuration asks for: log, plus webhook/email, deduplicated."""
    import datetime as dt

    from bronze_sync.alerts.dispatch import Dispatcher
    from bronze_sync.alerts.transports import EmailNotifier, WebhookNotifier
    from bronze_sync.bronze.storage import BronzeStore
    from bronze_sync.metadata.store import MetadataStore

    settings = config.alerts
    secrets = config_secrets(config)
    transports: list[Notifier] = []
    if settings.webhook:
        transports.append(WebhookNotifier(settings.webhook, settings.ui_base_url, secrets))
    if settings.email:
        transports.append(EmailNotifier(settings.email, settings.ui_base_url, secrets))
    meta = MetadataStore(BronzeStore.from_config(config.bronze))
    return Dispatcher(transports, meta, dt.timedelta(minutes=settings.dedup_minutes))


def config_secrets(config: Config) -> list[str]:
    """Return the secret values of a configuration, to keep them out of alert bodies."""
    from sqlalchemy.engine import make_url

    secrets = [*config.bronze.storage_options.values()]
    if config.alerts.webhook:
        secrets.append(config.alerts.webhook.url)
    if config.alerts.email and config.alerts.email.password:
        secrets.append(config.alerts.email.password)
    url = getattr(config.source, "url", None)
    if url:
        try:
            password = make_url(url).password
        except Exception:
            password = None
        if password:
            secrets.append(str(password))
    return [s for s in secrets if s]
