"""Fan an alert out to every configured transport, once per dedup window."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from bronze_sync.alerts.dedup import fingerprint, log_alert, recently_sent
from bronze_sync.alerts.model import Alert, LogNotifier, Notifier
from bronze_sync.clock import Clock, utc_now
from bronze_sync.metadata.store import MetadataStore

log = logging.getLogger("bronze_sync.alerts")


class Dispatcher:
    """Log every alert; deliver it through the transports unless sent within the window."""

    def __init__(
        self,
        transports: Sequence[Notifier],
        meta: MetadataStore | None,
        window: dt.timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self.transports = list(transports)
        self.meta, self.window, self.clock = meta, window, clock
        self.log = LogNotifier()

    @property
    def names(self) -> list[str]:
        """Return the transports' names ("log" first)."""
        return ["log", *(getattr(t, "name", type(t).__name__) for t in self.transports)]

    def send(self, alert: Alert) -> bool:
        """Deliver `alert`; return False when it was suppressed as a duplicate."""
        now = self.clock()
        previous = self._previous(alert, now)
        if previous is not None:
            log.info("alert suppressed (same failure sent at %s): %s", previous, alert.subject)
            self._record(alert, now, [], True, f"duplicate of the alert sent at {previous}")
            return False
        self.log.send(alert)
        delivered, problems = ["log"], []
        for transport in self.transports:
            name = getattr(transport, "name", type(transport).__name__)
            try:
                transport.send(alert)
                delivered.append(name)
            except Exception as exc:  # one broken transport must not silence the others
                problems.append(f"{name}: {exc}")
                log.error("alert transport %s failed: %s", name, exc)
        self._record(alert, now, delivered, False, "; ".join(problems) or None)
        return True

    def _previous(self, alert: Alert, now: dt.datetime) -> dt.datetime | None:
        if self.meta is None:
            return None
        try:
            return recently_sent(self.meta, fingerprint(alert), now, self.window)
        except Exception:  # an unreadable log must not swallow an alert
            log.exception("could not read the AlertLog; sending without deduplication")
            return None

    def _record(
        self, alert: Alert, now: dt.datetime, sent: list[str], suppressed: bool, notes: str | None
    ) -> None:
        if self.meta is None:
            return
        try:
            log_alert(self.meta, alert, now, sent, suppressed, notes)
        except Exception:
            log.exception("could not write the AlertLog row of %s", alert.subject)
