"""A rule's firing and its resolution: one alert each, both kept in AlertLog.

The state of every rule and table is its newest AlertLog row of this job: a rule that keeps
firing is not alerted again, one that stops firing sends a LOW "resolved" alert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from bronze_sync.alerts import Alert, Notifier, Severity
from bronze_sync.alerts.dedup import ALERT_LOG
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.monitoring.rules import Finding
from bronze_sync.rows.values import frame

RULES_JOB = "monitoring_rules"
FIRING, RESOLVED = "RuleFiring", "RuleResolved"


@dataclass
class RuleChanges:
    """What one evaluation changed: rules that started or stopped firing, and the rest."""

    fired: list[Finding] = field(default_factory=list)
    resolved: list[Finding] = field(default_factory=list)
    firing: list[Finding] = field(default_factory=list)  # every finding firing now


def firing_keys(meta: MetadataStore) -> set[str]:
    """Return the `rule:table` keys whose newest AlertLog row says firing."""
    if meta.version(ALERT_LOG) is None:
        return set()
    rows = frame(meta.read(ALERT_LOG, ["SentDate", "JobName", "Tables", "ErrorClass"]))
    rows = rows.filter(pl.col("JobName") == RULES_JOB).sort("SentDate")
    state: dict[str, bool] = {}
    for tables, error_class in zip(rows["Tables"], rows["ErrorClass"], strict=True):
        kind, _, rule = str(error_class or "").partition(":")
        if kind in (FIRING, RESOLVED):
            state[f"{rule}:{tables or '*'}"] = kind == FIRING
    return {key for key, on in state.items() if on}


def apply_findings(
    meta: MetadataStore, notifier: Notifier, findings: Sequence[Finding], run_id: str | None
) -> RuleChanges:
    """Alert the rules that started firing and those that stopped; return the changes."""
    before = firing_keys(meta)
    changes = RuleChanges(firing=[f for f in findings if f.firing])
    for finding in findings:
        if finding.firing and finding.key not in before:
            notifier.send(rule_alert(finding, run_id))
            changes.fired.append(finding)
        elif not finding.firing and finding.key in before:
            notifier.send(rule_alert(finding, run_id))
            changes.resolved.append(finding)
    return changes


def rule_alert(finding: Finding, run_id: str | None) -> Alert:
    """Return the alert of a rule that started firing, or (LOW) that is resolved."""
    where = finding.table or "maintenance"
    if finding.firing:
        severity, kind = Severity(finding.severity), FIRING
        subject = f"Rule {finding.rule} firing for {where}: {finding.message}"
    else:
        severity, kind = Severity.LOW, RESOLVED
        subject = f"Rule {finding.rule} resolved for {where}: {finding.message}"
    return Alert(
        severity=severity,
        subject=subject,
        body=(
            f"{finding.message} (threshold {finding.threshold:g}, measured {finding.value:.4g}). "
            "Thresholds: alerts.rules in the configuration (docs/monitoring.md)."
        ),
        job=RULES_JOB,
        run_id=run_id,
        tables=(finding.table,) if finding.table else (),
        error_class=f"{kind}:{finding.rule}",
        details={"rule": finding.rule, "state": "firing" if finding.firing else "resolved"},
    )


def rules_markdown(findings: Sequence[Finding], now: dt.datetime) -> str:
    """Return the rules section of the health report: every finding, firing ones first."""
    if not findings:
        return "## Rules\n\nNo rule had enough history to be evaluated."
    lines = [
        f"## Rules ({sum(f.firing for f in findings)} firing, evaluated {now:%Y-%m-%d %H:%M} UTC)",
        "",
        "| rule | table | state | measured | threshold | severity |",
        "|---|---|---|---|---|---|",
    ]
    for f in sorted(findings, key=lambda f: (not f.firing, f.rule, f.table or "")):
        state = "**firing**" if f.firing else "ok"
        lines.append(
            f"| {f.rule} | {f.table or '-'} | {state} | {f.value:.4g} | {f.threshold:g} | "
            f"{f.severity} |"
        )
    return "\n".join(lines)
