"""The `alerts:` section of the configuration: transports, deduplication, links."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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


# Monitoring rules (docs/monitoring.md): name -> (default threshold, default severity, meaning).
RULES: dict[str, tuple[float, str, str]] = {
    "slow_sync": (0.5, "MEDIUM", "a sync slower than its 7-day median by more than this share"),
    "record_count_deviation": (0.10, "MEDIUM", "active rows moved by more than this share"),
    "deleted_ratio": (0.20, "MEDIUM", "share of a table's rows flagged IsDeleted above this"),
    "purged_ratio": (0.50, "LOW", "share of a table's rows flagged IsPurged above this"),
    "checkpoint_failure_rate": (0.05, "HIGH", "share of checkpoints failed over 7 days"),
    "checkpoint_missing": (24.0, "HIGH", "hours without a checkpoint of a synced table"),
    "maintenance_duration": (2.0, "MEDIUM", "hours a maintenance run took or has been running"),
    "vacuum_retention": (
        0.0,
        "HIGH",
        "VACUUM keeps removed files shorter than the table's deletedFileRetentionDuration",
    ),
}
SHARE_RULES = {"record_count_deviation", "deleted_ratio", "purged_ratio", "checkpoint_failure_rate"}
Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"]


class RuleSettings(_Strict):
    """One monitoring rule's overrides: on or off, its threshold, its severity."""

    enabled: bool = True
    threshold: float | None = Field(None, ge=0)
    severity: Severity | None = None


class RulesSettings(_Strict):
    """`alerts.rules`: rule -> overrides, and `tables: {table: {rule: overrides}}`."""

    model_config = ConfigDict(extra="allow", frozen=True)
    tables: dict[str, dict[str, RuleSettings]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _known_rules(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for name, settings in value.items():
            if name == "tables":
                for table, rules in (settings or {}).items():
                    for rule, entry in (rules or {}).items():
                        _check_rule(rule, entry, f"tables.{table}.")
            else:
                _check_rule(name, settings, "")
        return {
            name: RuleSettings.model_validate(v or {}) if name != "tables" else v
            for name, v in value.items()
        }

    def for_table(self, rule: str, table: str | None) -> tuple[bool, float, str]:
        """Return (enabled, threshold, severity) of `rule` for `table` (global when None)."""
        threshold, severity, _ = RULES[rule]
        enabled = True
        layers = [getattr(self, rule, None)]
        if table is not None:
            layers.append(self.tables.get(table, {}).get(rule))
        for layer in layers:
            if isinstance(layer, RuleSettings):
                enabled = layer.enabled
                threshold = layer.threshold if layer.threshold is not None else threshold
                severity = layer.severity or severity
        return enabled, threshold, severity


def _check_rule(name: str, entry: Any, where: str) -> None:
    if name not in RULES:
        known = ", ".join(sorted(RULES))
        raise ValueError(f"rules.{where}{name}: unknown rule (known: {known})")
    threshold = (entry or {}).get("threshold") if isinstance(entry, dict) else None
    if isinstance(threshold, int | float) and name in SHARE_RULES and threshold > 1:
        raise ValueError(
            f"rules.{where}{name}.threshold: {threshold} is a share and must be at most 1 "
            "(0.1 means 10 %)"
        )
    if (
        isinstance(threshold, int | float)
        and name.endswith(("missing", "duration"))
        and not threshold > 0
    ):
        raise ValueError(f"rules.{where}{name}.threshold: hours must be more than 0")


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
    # Monitoring rules and their thresholds (docs/monitoring.md, "Monitoring rules").
    rules: RulesSettings = Field(default_factory=RulesSettings)
