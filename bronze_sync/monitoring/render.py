"""The health report as HTML with hand-written inline SVG charts, and as Markdown."""

from __future__ import annotations

from html import escape

from bronze_sync.monitoring.charts import bar_chart
from bronze_sync.monitoring.health import HealthReport


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _delta(now: float | None, before: float | None, percent: bool = False) -> str:
    if now is None or before is None:
        return ""
    diff = now - before
    return f"{diff * 100:+.0f} pt" if percent else f"{diff:+,.0f}"


def _summary_rows(report: HealthReport) -> list[tuple[str, str, str, str, str]]:
    t, p = report.today, report.previous
    return [
        ("success_rate", "Sync success rate", _pct(t.success_rate), _pct(p.success_rate),
         _delta(t.success_rate, p.success_rate, True)),
        ("syncs", "Table syncs (failed)", f"{t.syncs} ({t.failed})", f"{p.syncs} ({p.failed})",
         f"{_delta(t.syncs, p.syncs)} ({_delta(t.failed, p.failed)} failed)"),
        ("rows_processed", "Rows processed", f"{t.rows_processed:,}", f"{p.rows_processed:,}",
         _delta(t.rows_processed, p.rows_processed)),
        ("deleted", "Rows flagged deleted", f"{t.deleted:,}", f"{p.deleted:,}",
         _delta(t.deleted, p.deleted)),
        ("purged", "Rows flagged purged", f"{t.purged:,}", f"{p.purged:,}",
         _delta(t.purged, p.purged)),
        ("validation_pass_rate", "Validation pass rate", _pct(t.validation_pass_rate),
         _pct(p.validation_pass_rate),
         _delta(t.validation_pass_rate, p.validation_pass_rate, True)),
        ("checkpoint_coverage", "Checkpoint coverage", _pct(report.checkpoint_coverage), "", ""),
    ]  # fmt: skip


def render_html(report: HealthReport) -> str:
    """Return the report as a standalone HTML page."""
    labels = [d.day.strftime("%m-%d") for d in report.days]
    rows = "".join(
        f'<tr><td>{escape(label)}</td><td data-figure="{key}">{escape(now)}</td>'
        f"<td>{escape(before)}</td><td>{escape(change)}</td></tr>"
        for key, label, now, before, change in _summary_rows(report)
    )
    slow = "".join(
        f'<tr><td>{escape(t)}</td><td data-seconds="{s:.3f}">{s:,.1f} s</td></tr>'
        for t, s in report.slowest
    )
    failures = "".join(
        f"<li><b>{escape(t)}</b>: {escape(e[:300])}</li>" for t, e in report.failures.items()
    )
    charts = [
        bar_chart(
            "Sync success rate",
            labels,
            {"success %": [100 * (d.success_rate or 0) for d in report.days]},
            x_title="day (UTC)",
            y_title="successful syncs (%)",
        ),
        bar_chart(
            "Rows flagged per day",
            labels,
            {
                "deleted": [d.deleted for d in report.days],
                "purged": [d.purged for d in report.days],
            },
            x_title="day (UTC)",
            y_title="rows flagged",
        ),
        bar_chart(
            "Rows processed per table (report day)",
            list(report.rows_per_table),
            {"rows": list(report.rows_per_table.values())},
            x_title="table",
            y_title="rows processed",
        ),
    ]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>bronze health {report.day}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px}</style></head><body>"
        f"<h1>Bronze health report {report.day}</h1>"
        "<h2>Summary</h2><table id='summary'><tr><th>figure</th><th>report day</th>"
        f"<th>day before</th><th>change</th></tr>{rows}</table>"
        f"<h2>Slowest tables</h2><table id='slowest'><tr><th>table</th><th>seconds</th></tr>"
        f"{slow}</table>"
        f"<h2>Failures</h2><ul id='failures'>{failures or '<li>none</li>'}</ul>"
        f"<h2>Trends</h2>{''.join(charts)}</body></html>"
    )


def render_markdown(report: HealthReport) -> str:
    """Return the report's headline figures as Markdown (Dagster metadata, email text)."""
    lines = [
        f"# Bronze health report {report.day}",
        "",
        "| figure | report day | day before | change |",
        "|---|---|---|---|",
    ]
    lines += [f"| {label} | {now} | {before} | {change} |"
              for _key, label, now, before, change in _summary_rows(report)]  # fmt: skip
    if report.slowest:
        lines += ["", "**Slowest tables:** "
                  + ", ".join(f"{t} ({s:,.1f} s)" for t, s in report.slowest)]  # fmt: skip
    if report.failures:
        lines += ["", "**Failed:** " + ", ".join(sorted(report.failures))]
    lines += ["", "**Trend**", "", "| day | syncs | failed | success | deleted | purged |"]
    lines += ["|---|---|---|---|---|---|"]
    lines += [
        f"| {d.day} | {d.syncs} | {d.failed} | {_pct(d.success_rate)} | {d.deleted:,} "
        f"| {d.purged:,} |"
        for d in report.days
    ]
    return "\n".join(lines) + "\n"
