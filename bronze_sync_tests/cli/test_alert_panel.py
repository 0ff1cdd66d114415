"""Alerts raised during a command are drawn as panels, not printed as raw Markdown."""

from __future__ import annotations

import io
import logging

from rich.console import Console

from bronze_sync.alerts import Alert, LogNotifier, Severity
from bronze_sync.cli.alert_panel import show_alerts_as_panels


def test_alert_is_drawn_as_a_titled_panel_with_its_markdown_rendered():
    out = io.StringIO()
    show_alerts_as_panels(Console(file=out, width=80, force_terminal=False))
    try:
        LogNotifier().send(
            Alert(Severity.HIGH, "daily_sync failed: account", "**account**: source unreachable")
        )
    finally:
        logger = logging.getLogger("bronze_sync.alerts")
        logger.handlers.clear()
        logger.propagate = True
    text = out.getvalue()
    assert "HIGH: daily_sync failed: account" in text
    assert "account: source unreachable" in text and "**" not in text  # Markdown rendered
    assert text.lstrip().startswith("╭")  # a panel
