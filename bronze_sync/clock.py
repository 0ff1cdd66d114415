"""Time helpers: bronze only ever stores timezone-aware UTC timestamps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """Return the current time as an aware UTC datetime with microsecond precision."""
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """Return `value` as aware UTC; naive values are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def date_start_utc(day: dt.date) -> dt.datetime:
    """Return midnight UTC at the start of `day`."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def utc_today(clock: Clock = utc_now) -> dt.date:
    """Return today's date in UTC."""
    return clock().date()
