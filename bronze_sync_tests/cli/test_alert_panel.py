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


def test_a_second_command_in_the_same_process_draws_on_its_own_console():
    first, second = io.StringIO(), io.StringIO()
    logger = logging.getLogger("bronze_sync.alerts")
    try:
        show_alerts_as_panels(Console(file=first, width=80, force_terminal=False))
        show_alerts_as_panels(Console(file=second, width=80, force_terminal=False))
        LogNotifier().send(Alert(Severity.HIGH, "stale: account", "last sync 30 h ago"))
        assert len(logger.handlers) == 1
    finally:
        logger.handlers.clear()
        logger.propagate = True
    assert first.getvalue() == "" and "HIGH: stale: account" in second.getvalue()
