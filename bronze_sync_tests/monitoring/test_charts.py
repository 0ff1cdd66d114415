"""Health report charts carry a labelled value axis and the value of every bar."""

from __future__ import annotations

import datetime as dt
import re

from bronze_sync.monitoring.charts import bar_chart, nice_top
from bronze_sync.monitoring.health import DayFigures, HealthReport
from bronze_sync.monitoring.render import render_markdown


def test_axis_has_round_ticks_titles_and_every_bar_its_value():
    svg = bar_chart(
        "Rows flagged", ["11-30", "12-01"], {"deleted": [0, 6], "purged": [3, 1]},
        x_title="day (UTC)", y_title="rows flagged",
    )  # fmt: skip
    ticks = re.findall(r'class="tick"[^>]*>([^<]+)<', svg)
    assert ticks == ["0", "2.5", "5", "7.5", "10"]  # the maximum 6 rounded up to 10
    titles = re.findall(r'class="axis-title"[^>]*>([^<]+)<', svg)
    assert titles == ["rows flagged", "day (UTC)"]
    values = re.findall(r'class="value"[^>]*>([^<]+)<', svg)
    assert values == ["0", "3", "6", "1"]


def test_nice_top_rounds_up_to_a_readable_maximum():
    assert [nice_top(v) for v in (0, 6, 7, 42, 99.5, 1234)] == [1, 10, 10, 50, 100, 2000]


def test_change_of_syncs_from_none_to_six_is_plus_six():
    day = dt.date(2026, 12, 1)
    report = HealthReport(
        day=day,
        days=[DayFigures(day - dt.timedelta(days=1)), DayFigures(day, syncs=6, succeeded=6)],
    )
    markdown = render_markdown(report)
    row = next(line for line in markdown.splitlines() if line.startswith("| Table syncs"))
    assert row.endswith("| +6 (+0 failed) |")
    assert "| 2026-12-01 | 6 | 0 | 100% | 0 | 0 |" in markdown  # the trend, per day
