"""Alerts: what every feature raises when an operator must act.

Features build an `Alert` and hand it to `notifier_for(config)`: it always logs (logger
`bronze_sync.alerts`), and delivers through the webhook and email transports of the config's
`alerts:` section at most once per dedup window (AlertLog metadata table).
"""

from __future__ import annotations

# The model lives in its own module so the transports and the dispatcher, which this
# package's notifier_for builds, import it without importing this package's code back.
from bronze_sync.alerts.model import Alert, LogNotifier, Notifier, Severity
from bronze_sync.config.models import Config


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


__all__ = ["Alert", "LogNotifier", "Notifier", "Severity", "config_secrets", "notifier_for"]
