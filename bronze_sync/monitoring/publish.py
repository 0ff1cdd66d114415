"""Build, write and optionally email the daily health report."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import pyarrow.fs as pafs
from deltalake.fs import DeltaStorageHandler

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config.models import Config
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.monitoring.health import HealthReport, build_report
from bronze_sync.monitoring.render import render_html, render_markdown


@dataclass(frozen=True)
class PublishedReport:
    """A written health report: where it is and what it says."""

    report: HealthReport
    path: str
    markdown: str
    emailed: bool


def write_text(store: BronzeStore, relative: str, text: str) -> str:
    """Write `text` under the bronze root (local or object store); return its location."""
    if store.is_local:
        path = os.path.join(store.root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path
    filesystem = pafs.PyFileSystem(DeltaStorageHandler(store.root, store.options()))
    with filesystem.open_output_stream(relative) as stream:
        stream.write(text.encode())
    return f"{store.root}/{relative}"


def publish_report(
    config: Config, day: dt.date, history_days: int = 7, email: bool | None = None
) -> PublishedReport:
    """Write `{bronze.path}/reports/health_{day}.html`; email it when configured."""
    store = BronzeStore.from_config(config.bronze)
    tables = [t.name for t in config.enabled_tables()]
    report = build_report(MetadataStore(store), day, tables, history_days)
    html = render_html(report)
    path = write_text(store, f"reports/health_{day.isoformat()}.html", html)
    markdown = render_markdown(report)
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
