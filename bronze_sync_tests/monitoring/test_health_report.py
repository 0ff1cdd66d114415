"""The health report renders several days of metadata history as HTML with SVG charts."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import dagster as dg
import pytest

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.defs.location import build_definitions
from bronze_sync.metadata import AuditEntry, MetadataStore, RunInfo, ValidationRecord
from bronze_sync.metadata.audit import write_audit, write_validation
from bronze_sync.metadata.schemas import CHECKPOINT_HISTORY
from bronze_sync.monitoring.publish import publish_report
from bronze_sync_tests.alerts.servers import smtp_server

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
TODAY = dt.date(2026, 11, 23)


class Figures(HTMLParser):
    """Collect data-figure cells, slowest-table seconds, SVG charts and their bars."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self.seconds: list[float] = []
        self.svgs = 0
        self.bars: list[dict[str, str]] = []
        self._figure: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.svgs += 1
        if tag == "rect" and a.get("class") == "bar":
            self.bars.append(a)
        if tag == "td" and "data-figure" in a:
            self._figure = a["data-figure"]
        if tag == "td" and "data-seconds" in a:
            self.seconds.append(float(a["data-seconds"]))

    def handle_data(self, data):
        if self._figure:
            self.figures[self._figure] = data
            self._figure = None


def at(day_offset: int, hour: int = 6) -> dt.datetime:
    day = TODAY - dt.timedelta(days=day_offset)
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def history(meta: MetadataStore) -> None:
    """Four days of syncs of tables a, b, c; today b fails and c is slow."""
    for back in range(4):
        run = RunInfo(f"run-{back}")
        start = at(back)
        entries = []
        for table, seconds in (("a", 10), ("b", 20), ("c", 30 + 100 * (back == 0))):
            failed = table == "b" and back == 0
            end = start + dt.timedelta(seconds=seconds)
            entries.append(
                AuditEntry("DataSync", table, start, end, status="Failed" if failed else "Success",
                           rows_processed=0 if failed else 100 * (back + 1),
                           error="b: source unreachable" if failed else None)
            )  # fmt: skip
            if not failed:
                entries.append(AuditEntry("DeleteDetection", table, start, end,
                                          rows_deleted=back + 1, rows_purged=2 * back))  # fmt: skip
        write_audit(meta, run, entries, start + dt.timedelta(minutes=5))
        records = [ValidationRecord(t, "counts_consistent", t != "b" or back > 0, 1, 1, 0, 0)
                   for t in ("a", "b", "c")]  # fmt: skip
        write_validation(meta, run, records, start + dt.timedelta(minutes=6))
    meta.append(
        CHECKPOINT_HISTORY,
        [{"CheckpointId": t, "CheckpointName": f"bronze_backup_{TODAY}_{t}",
          "CheckpointType": "Daily", "CreatedDate": at(0, 7), "ValidationStatus": "Validated",
          "IsActive": True, "TableVersions": f'{{"{t}": 3}}'} for t in ("a", "c")],
    )  # fmt: skip


@pytest.fixture
def config(make_config):
    return make_config([{"name": t, "source": f"s.{t}", "primary_key": "id"} for t in "abc"])


def test_report_shows_today_against_yesterday_with_charts(config):
    history(MetadataStore(BronzeStore.from_config(config.bronze)))
    published = publish_report(config, TODAY, history_days=4)
    assert published.path.endswith(f"reports/health_{TODAY}.html")
    parser = Figures()
    with open(published.path, encoding="utf-8") as handle:
        parser.feed(handle.read())
    f = parser.figures
    assert f["success_rate"] == "67%"  # 2 of 3 tables synced today
    assert f["syncs"] == "3 (1)"
    assert f["rows_processed"] == "200"  # a and c, 100 rows each
    assert f["deleted"] == "2" and f["purged"] == "0"
    assert f["validation_pass_rate"] == "67%"
    assert f["checkpoint_coverage"] == "67%"
    assert parser.seconds == [130.0, 20.0, 10.0]  # slowest first
    assert parser.svgs == 3
    success = [b for b in parser.bars if b["data-series"] == "success %"]
    assert [float(b["data-value"]) for b in success] == [100, 100, 100, pytest.approx(66.6667)]
    deleted = [int(float(b["data-value"])) for b in parser.bars if b["data-series"] == "deleted"]
    assert deleted == [4 * 3, 3 * 3, 2 * 3, 1 * 2]  # oldest day first
    assert "| Sync success rate | 67% | 100% | -33 pt |" in published.markdown
    assert "**Failed:** b" in published.markdown


def test_report_is_emailed_when_asked(make_config, monkeypatch):
    with smtp_server("u", "pw-123456") as (port, inbox):
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "pw-123456")
        config = make_config(
            [{"name": "a", "source": "s.a", "primary_key": "id"}],
            alerts={"email": {"host": "127.0.0.1", "port": port, "security": "none", "user": "u",
                              "password": "${TEST_SMTP_PASSWORD}", "sender": "b@x.test",
                              "recipients": ["ops@x.test"]}, "email_health_report": True},
        )  # fmt: skip
        published = publish_report(config, TODAY)
    assert published.emailed and len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail["Subject"] == f"Bronze health report {TODAY}"
    assert mail.get_body(("html",)).get_content().count("<svg") == 3


def test_health_report_asset_materializes_with_markdown(config):
    defs = build_definitions(config)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("health_report_job").execute_in_process(instance=instance)
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert "# Bronze health report" in metadata["report"].value
    assert metadata["path"].value.endswith(".html")
    schedule = defs.resolve_schedule_def("health_report_schedule")
    assert schedule.cron_schedule == "0 8 * * *" and schedule.execution_timezone == "UTC"
