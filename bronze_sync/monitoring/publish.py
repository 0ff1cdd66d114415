"""Build, write and optionally email the daily health report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from pathlib import Path

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.clock import utc_now
from bronze_sync.config.models import Config
from bronze_sync.errors import ConfigError
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.monitoring.health import HealthReport, build_report
from bronze_sync.monitoring.render import render_html, render_markdown
from bronze_sync.monitoring.rule_alerts import rules_markdown
from bronze_sync.monitoring.rules import evaluate_rules, gather


@dataclass(frozen=True)
class PublishedReport:
    """A written health report: where it is and what it says."""

    report: HealthReport
    path: str
    markdown: str
    emailed: bool


def write_text(store: BronzeStore, relative: str, text: str) -> str:
    """Write `text` under the bronze root (local or object store), whole or not at all."""
    return store.write_object(relative, text.encode())


def write_local(path: str, text: str) -> str:
    """Write `text` to the local file `path`, whole or not at all; return its absolute path."""
    target = Path(path).expanduser().absolute()
    if "://" in path:
        raise ConfigError(
            f"--out {path}: give a local file (the report goes to the bronze root without --out)"
        )
    BronzeStore(str(target.parent)).write_object(target.name, text.encode())
    return str(target)


def publish_report(
    config: Config,
    day: dt.date,
    history_days: int = 7,
    email: bool | None = None,
    out: str | None = None,
) -> PublishedReport:
    """Write `{bronze.path}/reports/health_{day}.html` (or `out`); email it when configured."""
    store = BronzeStore.from_config(config.bronze)
    tables = [t.name for t in config.enabled_tables()]
    meta = MetadataStore(store)
    report = build_report(meta, day, tables, history_days)
    now = utc_now()
    findings = evaluate_rules(config, gather(meta, store, config), now)
    rules = rules_markdown(findings, now)
    html = render_html(report).replace("</body>", f"<pre>{escape(rules)}</pre></body>", 1)
    if out:
        path = write_local(out, html)
    else:
        path = write_text(store, f"reports/health_{day.isoformat()}.html", html)
    markdown = f"{render_markdown(report)}\n\n{rules}"
    settings = config.alerts
    send = settings.email_health_report if email is None else email
    emailed = False
    if send and settings.email:
        from bronze_sync.alerts import config_secrets
        from bronze_sync.alerts.transports import EmailNotifier

        notifier = EmailNotifier(settings.email, settings.ui_base_url, config_secrets(config))
        notifier.send_message(f"Bronze health report {day}", markdown, html)
        emailed = True
    return PublishedReport(report, path, markdown, emailed)
