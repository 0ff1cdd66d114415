"""Alerts raised while a command runs, drawn as readable panels instead of raw Markdown."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel

from bronze_sync.alerts import Alert, Severity

COLOURS = {Severity.HIGH: "red", Severity.MEDIUM: "yellow"}


class AlertPanelHandler(logging.Handler):
    """A logging handler that draws each alert record as a panel on the terminal."""

    def __init__(self, console: Console) -> None:
        super().__init__(level=logging.WARNING)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        """Draw the record's alert (or its message, for any other record)."""
        alert = getattr(record, "alert", None)
        if not isinstance(alert, Alert):
            self.console.print(record.getMessage(), markup=False)
            return
        colour = COLOURS.get(alert.severity, "red")
        self.console.print(
            Panel(
                Markdown(alert.body),
                title=f"[bold]{alert.severity.value}[/]: {alert.subject}",
                border_style=colour,
                expand=False,
            )
        )


def show_alerts_as_panels(console: Console) -> None:
    """Route the `bronze_sync.alerts` log to panels on `console` (one handler per process)."""
    logger = logging.getLogger("bronze_sync.alerts")
    # A later command in the same process (tests, an embedding program) draws on its own
    # console, not on the first command's.
    for handler in logger.handlers:
        if isinstance(handler, AlertPanelHandler):
            handler.console = console
            return
    logger.addHandler(AlertPanelHandler(console))
    logger.propagate = False
