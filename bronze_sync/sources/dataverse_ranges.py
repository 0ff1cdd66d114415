"""Read a whole entity as several `createdon` ranges at once (initial loads and key scans).

One paged read waits a round trip per 5,000-row page; ranges read in parallel overlap those
waits, while the client's concurrency cap and shared 429 back-off keep the requests within
the service protection limits. `createdon` never changes, so every row falls in exactly one
range: half-open ranges at whole seconds from the oldest to one second past the newest, the
first of which also takes the rows without a value (a range of their own would cost one more
round trip queued behind the others for a handful of rows). Rows created after the bounds
were read are left to the next sync (its watermark overlap and key scan find them).
"""

from __future__ import annotations

import datetime as dt
import itertools

STAMP = "%Y-%m-%dT%H:%M:%SZ"


def created_ranges(
    oldest: dt.datetime, newest: dt.datetime, count: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Split oldest..newest into at most `count` half-open ranges at whole seconds."""
    start = oldest.astimezone(dt.UTC).replace(microsecond=0)
    stop = newest.astimezone(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=1)
    seconds = int((stop - start).total_seconds())
    edges = sorted({start + dt.timedelta(seconds=seconds * i // count) for i in range(count)})
    edges.append(stop)
    return list(itertools.pairwise(edges))


def range_filters(column: str, ranges: list[tuple[dt.datetime, dt.datetime]]) -> list[str]:
    """Return one OData `$filter` per range; the first also matches rows whose `column` is null."""
    filters = [
        f"{column} ge {low.strftime(STAMP)} and {column} lt {high.strftime(STAMP)}"
        for low, high in ranges
    ]
    filters[0] = f"({column} eq null or ({filters[0]}))"
    return filters


def parse_stamp(value: str) -> dt.datetime:
    """Return a Web API date-time value (`2024-05-01T10:00:00Z`) as an aware datetime."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)
