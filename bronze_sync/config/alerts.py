"""The `alerts:` section of the configuration: transports, deduplication, links."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookSettings(_Strict):
    """A JSON POST to a Teams/Slack/Logic-App webhook (the URL is a secret: use ${VAR})."""

    url: str = Field(min_length=1)
    format: Literal["teams", "slack", "generic"] = "teams"
    timeout_seconds: float = Field(10.0, gt=0)


class EmailSettings(_Strict):
    """SMTP delivery (host, port, TLS mode, login from ${VARS})."""

    host: str = Field(min_length=1)
    port: int = Field(587, gt=0, lt=65536)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    password: str | None = None
    sender: str = Field(min_length=3)
    recipients: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(15.0, gt=0)


class AlertSettings(_Strict):
    """Where alerts go and how often the same one may repeat."""

    webhook: WebhookSettings | None = None
    email: EmailSettings | None = None
    # The same failure (job, table set, error class) alerts at most once per window.
    dedup_minutes: float = Field(60.0, ge=0)
    # Base URL of the Dagster UI, for links to runs in alert bodies.
    ui_base_url: str = "http://localhost:3000"
    # Email the daily health report (needs `email`).
    email_health_report: bool = False
    # Consecutive failed syncs of a table before its circuit breaker opens.
    breaker_failures: int = Field(5, ge=1)
