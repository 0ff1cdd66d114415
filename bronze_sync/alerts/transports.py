"""Real alert transports: a JSON webhook POST and SMTP email."""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage

from bronze_sync.alerts.content import redact, render_text, title, webhook_payload
from bronze_sync.alerts.model import Alert
from bronze_sync.config.alerts import EmailSettings, WebhookSettings
from bronze_sync.errors import BronzeSyncError


class AlertDeliveryError(BronzeSyncError):
    """A transport could not deliver an alert (the message names the transport, not secrets)."""


class WebhookNotifier:
    """POST alerts as JSON to a webhook URL (Teams MessageCard, Slack blocks, or generic)."""

    name = "webhook"

    def __init__(self, settings: WebhookSettings, ui_base_url: str, secrets: list[str]) -> None:
        self.settings, self.ui_base_url, self.secrets = settings, ui_base_url, secrets

    def send(self, alert: Alert) -> None:
        """POST `alert`; raise AlertDeliveryError (without the URL) when it fails."""
        payload = webhook_payload(alert, self.settings.format, self.ui_base_url)
        body = redact(json.dumps(payload), self.secrets).encode()
        request = urllib.request.Request(
            self.settings.url,
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_seconds) as reply:
                reply.read()
        except urllib.error.HTTPError as exc:
            raise AlertDeliveryError(f"webhook answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AlertDeliveryError(f"webhook unreachable: {type(reason).__name__}") from None


class EmailNotifier:
    """Send alerts as plain-text email through SMTP (STARTTLS, SSL or plain)."""

    name = "email"

    def __init__(self, settings: EmailSettings, ui_base_url: str, secrets: list[str]) -> None:
        self.settings, self.ui_base_url, self.secrets = settings, ui_base_url, secrets

    def send(self, alert: Alert) -> None:
        """Email `alert` to the configured recipients."""
        self.send_message(title(alert), redact(render_text(alert, self.ui_base_url), self.secrets))

    def send_message(self, subject: str, text: str, html: str | None = None) -> None:
        """Send one message (optionally with an HTML alternative)."""
        s = self.settings
        message = EmailMessage()
        message["Subject"] = redact(subject, self.secrets)
        message["From"] = s.sender
        message["To"] = ", ".join(s.recipients)
        message.set_content(text)
        if html is not None:
            message.add_alternative(redact(html, self.secrets), subtype="html")
        try:
            with self._connect() as smtp:
                if s.user:
                    smtp.login(s.user, s.password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise AlertDeliveryError(
                f"email via {s.host}:{s.port} failed: {type(exc).__name__}"
            ) from None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "ssl":
            return smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout_seconds, context=ssl.create_default_context()
            )
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        if s.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        return smtp
