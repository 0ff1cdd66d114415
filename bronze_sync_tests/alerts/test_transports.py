"""Alerts delivered for real: a local webhook and a local SMTP server; dedup and batching."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bronze_sync.alerts import Severity, notifier_for
from bronze_sync.alerts.content import TableFailure, failure_alert
from bronze_sync.alerts.dedup import ALERT_LOG
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.metadata import MetadataStore
from bronze_sync_tests.alerts.servers import smtp_server, webhook_server

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PASSWORD = "Sm7p-Pa55word!"
SOURCE_PASSWORD = "db-Pa55word-xyz"


def failures(n: int, error: str = "MassDeleteError") -> list[TableFailure]:
    return [
        TableFailure(f"t{i}", error, f"t{i}: would flag 90 of 100 rows; url had {SOURCE_PASSWORD}")
        for i in range(n)
    ]


@pytest.fixture
def alerting(make_config, monkeypatch):
    """Yield a factory of configs whose alerts go to live local servers."""
    with webhook_server() as (url, posts), smtp_server("alerts", PASSWORD) as (port, inbox):
        monkeypatch.setenv("TEST_WEBHOOK_URL", url)
        monkeypatch.setenv("TEST_SMTP_PASSWORD", PASSWORD)

        def factory(style: str = "teams", dedup: float = 60):
            return make_config(
                [{"name": "a", "source": "a", "primary_key": "id"}],
                source={"url": f"postgresql+psycopg://u:{SOURCE_PASSWORD}@127.0.0.1/test"},
                alerts={
                    "webhook": {"url": "${TEST_WEBHOOK_URL}", "format": style},
                    "email": {
                        "host": "127.0.0.1",
                        "port": port,
                        "security": "none",
                        "user": "alerts",
                        "password": "${TEST_SMTP_PASSWORD}",
                        "sender": "bronze@example.test",
                        "recipients": ["ops@example.test"],
                    },
                    "dedup_minutes": dedup,
                    "ui_base_url": "https://dagster.example.test/",
                },
            )

        yield factory, url, posts, inbox


def test_many_table_failures_make_one_message_per_transport(alerting):
    factory, _url, posts, inbox = alerting
    notifier = notifier_for(factory())
    assert notifier.send(failure_alert("daily_sync", "run-123", failures(5)))
    assert len(posts) == 1 and len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail["Subject"] == "[HIGH] 5 tables failed in daily_sync"
    text = mail.get_content()
    for table in ["t0", "t1", "t2", "t3", "t4"]:
        assert f"- {table}: [MassDeleteError]" in text
    assert "https://dagster.example.test/runs/run-123" in text
    assert "First steps:" in text and "--allow-mass-delete" in text
    assert inbox.logins == ["alerts"]
    card = posts[0]
    assert (
        card["@type"] == "MessageCard" and card["title"] == "[HIGH] 5 tables failed in daily_sync"
    )
    assert card["potentialAction"][0]["targets"][0]["uri"].endswith("/runs/run-123")
    assert {f["name"] for f in card["sections"][0]["facts"]} == {"t0", "t1", "t2", "t3", "t4"}


def test_secrets_never_appear_in_bodies(alerting):
    factory, url, posts, inbox = alerting
    notifier_for(factory()).send(failure_alert("daily_sync", "r", failures(2)))
    bodies = [json.dumps(p) for p in posts] + [m.as_string() for m in inbox.messages]
    for body in bodies:
        assert PASSWORD not in body and SOURCE_PASSWORD not in body
        assert "s3cr3t-token" not in body and url not in body
        assert "***" in body


def test_same_failure_alerts_once_within_the_window(alerting):
    factory, _url, posts, inbox = alerting
    config = factory()
    alert = failure_alert("daily_sync", "run-1", failures(3))
    assert notifier_for(config).send(alert)
    # A new process (new notifier) and a new run: still the same failure, within the hour.
    assert not notifier_for(config).send(failure_alert("daily_sync", "run-2", failures(3)))
    assert len(posts) == 1 and len(inbox.messages) == 1
    # Another table set or another error class is a different failure.
    assert notifier_for(config).send(failure_alert("daily_sync", "run-3", failures(2)))
    assert notifier_for(config).send(
        failure_alert("daily_sync", "run-4", failures(3, "SourceUnavailableError"))
    )
    assert len(posts) == 3
    log = MetadataStore(BronzeStore.from_config(config.bronze)).rows(ALERT_LOG)
    assert sorted(r["Suppressed"] for r in log) == [False, False, False, True]


def test_same_failure_alerts_again_after_the_window(alerting):
    factory, _url, posts, _inbox = alerting
    notifier = notifier_for(factory(dedup=60))
    notifier.send(failure_alert("daily_sync", "run-1", failures(1)))
    notifier.clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=61)
    assert notifier.send(failure_alert("daily_sync", "run-2", failures(1)))
    assert len(posts) == 2


@pytest.mark.parametrize("style", ["slack", "generic"])
def test_webhook_styles(alerting, style):
    factory, _url, posts, _inbox = alerting
    notifier_for(factory(style=style)).send(
        failure_alert("daily_sync", "run-9", failures(1), severity=Severity.CRITICAL)
    )
    payload = posts[0]
    if style == "slack":
        assert payload["text"] == "[CRITICAL] 1 table failed in daily_sync"
        assert "runs/run-9" in payload["blocks"][1]["text"]["text"]
    else:
        assert payload["tables"] == ["t0"] and payload["run_url"].endswith("/runs/run-9")
        assert payload["severity"] == "CRITICAL"


def test_a_broken_transport_does_not_stop_the_others(alerting, make_config):
    factory, _url, _posts, inbox = alerting
    config = factory()
    broken = config.model_copy(
        update={"alerts": config.alerts.model_copy(update={
            "webhook": config.alerts.webhook.model_copy(update={"url": "http://127.0.0.1:9/x"})
        })}
    )  # fmt: skip
    assert notifier_for(broken).send(failure_alert("daily_sync", "r", failures(1)))
    assert len(inbox.messages) == 1
    row = MetadataStore(BronzeStore.from_config(config.bronze)).rows(ALERT_LOG)[0]
    assert row["Transports"] == "log,email" and "webhook unreachable" in row["Notes"]
