"""What an alert says: batched failures, the text body, webhook payloads, redaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bronze_sync.alerts.model import Alert, Severity

MAX_ERROR = 500
COLORS = {
    Severity.CRITICAL: "8B0000",
    Severity.HIGH: "D13438",
    Severity.MEDIUM: "FFB900",
    Severity.LOW: "0078D4",
}
FIRST_STEPS = {
    "MassDeleteError": "Check in the source whether the rows really vanished; if so, re-run "
    "the table with --allow-mass-delete.",
    "SourceUnavailableError": "Check that the source is reachable and its credentials are valid.",
    "SchemaChangeError": "Compare the source schema with bronze; fix the source or the config.",
    "SourceSchemaError": "Check that the configured table and columns exist in the source.",
    "SourceDataError": "Fix the null or duplicate keys in the source, then re-run.",
    "CheckpointFailed": "The data is committed; the table's next sync (or the batch checkpoint "
    "sensor) records the missing checkpoint. Check that metadata/CheckpointHistory is "
    "writable: bronze-sync checkpoints --all.",
    "CircuitBreakerOpen": "Fix the cause, then close the breaker: bronze-sync breaker reset "
    "--tables <names> (or the reset_circuit_breaker job).",
}
GENERIC_STEPS = (
    "Open the run in the Dagster UI and read the failed steps' logs.",
    "Check SyncAuditLog for the tables' recent errors (bronze-sync status).",
    "After the fix, re-run: bronze-sync sync --tables <names>.",
)


@dataclass(frozen=True)
class TableFailure:
    """One table's failure in a run."""

    table: str
    error_class: str
    message: str


def failure_alert(
    job: str,
    run_id: str | None,
    failures: Sequence[TableFailure],
    severity: Severity = Severity.HIGH,
    what: str = "failed",
) -> Alert:
    """Return ONE alert for every table that failed in a run ("5 tables failed in daily_sync")."""
    tables = tuple(sorted({f.table for f in failures}))
    classes = sorted({f.error_class for f in failures})
    noun = "table" if len(tables) == 1 else "tables"
    subject = f"{len(tables)} {noun} {what} in {job}"
    body = "\n".join(f"- {f.table}: [{f.error_class}] {_short(f.message)}" for f in failures)
    steps = tuple(dict.fromkeys([FIRST_STEPS[c] for c in classes if c in FIRST_STEPS]))
    return Alert(
        severity=severity,
        subject=subject,
        body=body,
        job=job,
        run_id=run_id,
        tables=tables,
        error_class=",".join(classes),
        details={f.table: f"[{f.error_class}] {_short(f.message)}" for f in failures},
        first_steps=steps + GENERIC_STEPS,
    )


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 1] + "…"


def run_url(alert: Alert, ui_base_url: str) -> str | None:
    """Return the Dagster UI link of the alert's run, if it has one."""
    if not alert.run_id:
        return None
    return f"{ui_base_url.rstrip('/')}/runs/{alert.run_id}"


def title(alert: Alert) -> str:
    """Return the subject line with its severity, e.g. "[HIGH] 5 tables failed in daily_sync"."""
    return f"[{alert.severity.value}] {alert.subject}"


def render_text(alert: Alert, ui_base_url: str) -> str:
    """Return the plain-text body: what happened, tables, run and link, first steps."""
    lines = [title(alert), ""]
    if alert.job or alert.run_id:
        lines.append(f"Job: {alert.job or '-'}    Run: {alert.run_id or '-'}")
    link = run_url(alert, ui_base_url)
    if link:
        lines.append(f"Run in the Dagster UI: {link}")
    if alert.tables:
        lines.append(f"Tables ({len(alert.tables)}): {', '.join(alert.tables)}")
    lines += ["", alert.body.strip()]
    if alert.first_steps:
        lines += ["", "First steps:"]
        lines += [f"{i}. {step}" for i, step in enumerate(alert.first_steps, 1)]
    return "\n".join(lines).strip() + "\n"


def webhook_payload(alert: Alert, style: str, ui_base_url: str) -> dict[str, Any]:
    """Return the JSON payload for a Teams (MessageCard), Slack or generic webhook."""
    link = run_url(alert, ui_base_url)
    text = render_text(alert, ui_base_url)
    if style == "slack":
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": title(alert)[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}},
        ]
        return {"text": title(alert), "blocks": blocks}
    if style == "teams":
        card: dict[str, Any] = {
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            "summary": title(alert),
            "themeColor": COLORS[alert.severity],
            "title": title(alert),
            "text": text.replace("\n", "<br>"),
            "sections": [
                {"facts": [{"name": t, "value": v} for t, v in sorted(alert.details.items())]}
            ],
        }
        if link:
            card["potentialAction"] = [
                {"@type": "OpenUri", "name": "Open the run in Dagster",
                 "targets": [{"os": "default", "uri": link}]}
            ]  # fmt: skip
        return card
    return {
        "severity": alert.severity.value,
        "subject": title(alert),
        "body": text,
        "job": alert.job,
        "run_id": alert.run_id,
        "run_url": link,
        "tables": list(alert.tables),
        "error_class": alert.error_class,
        "details": dict(alert.details),
        "first_steps": list(alert.first_steps),
    }


def redact(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with every secret value replaced by ***."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
