"""Monitoring rules: thresholds from config, findings from real syncs, firing and resolution."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bronze_sync.alerts.dedup import ALERT_LOG
from bronze_sync.alerts.dispatch import Dispatcher
from bronze_sync.config.loader import parse_config
from bronze_sync.defs.location import build_definitions
from bronze_sync.errors import ConfigError
from bronze_sync.metadata.audit import AuditEntry, RunInfo, write_audit
from bronze_sync.monitoring.publish import publish_report
from bronze_sync.monitoring.rule_alerts import apply_findings
from bronze_sync.monitoring.rules import evaluate_rules, gather
from bronze_sync_tests.cli_runner import cli_runner
from bronze_sync_tests.helpers import PgTable
from bronze_sync_tests.purge.test_purge_request import Alerts

IDS = [f"a{i:02d}" for i in range(10)]


@pytest.fixture
def account(pg_engine, pg_schema):
    table = PgTable(pg_engine, pg_schema)
    table.insert_ids(IDS)
    return table


def _deleting_day(account, make_config, harness_for):
    """Return a harness whose second sync flagged 3 of the 10 rows IsDeleted."""
    h = harness_for(make_config([account.config(max_delete_fraction=1)]))
    h.sync()
    account.delete(IDS[:3])
    h.sync()
    return h


def _findings(h, now=None):
    now = now or dt.datetime.now(dt.UTC)
    found = evaluate_rules(h.config, gather(h.meta, h.store, h.config), now)
    return {f.key: f for f in found}


def test_a_day_deleting_30_percent_fires_the_ratio_and_deviation_rules(
    account, make_config, harness_for
):
    h = _deleting_day(account, make_config, harness_for)
    found = _findings(h)
    deleted, moved = found["deleted_ratio:account"], found["record_count_deviation:account"]
    assert (deleted.firing, deleted.value, deleted.threshold) == (True, 0.3, 0.2)
    assert (moved.firing, round(moved.value, 3)) == (True, 0.3)
    assert not found["purged_ratio:account"].firing
    assert not found["checkpoint_failure_rate:account"].firing
    assert "slow_sync:account" not in found  # two syncs: too little history for a median

    overridden = harness_for(
        make_config(
            [account.config(max_delete_fraction=1)],
            alerts={"rules": {"tables": {"account": {"deleted_ratio": {"threshold": 0.5}}}}},
        )
    )
    assert not _findings(overridden)["deleted_ratio:account"].firing


def test_time_rules_fire_on_age_slowness_and_short_vacuum(account, make_config, harness_for):
    h = harness_for(make_config([account.config(deleted_file_retention_days=14)]))
    h.sync()
    now = dt.datetime.now(dt.UTC)
    assert not _findings(h, now)["checkpoint_missing:account"].firing
    late = _findings(h, now + dt.timedelta(hours=25))["checkpoint_missing:account"]
    assert late.firing and late.value > 24
    vacuum = _findings(h)["vacuum_retention:account"]
    assert vacuum.firing and "168 h" in vacuum.message and "336 h" in vacuum.message

    run = RunInfo("timing", "daily_sync")
    for i, seconds in enumerate([10, 11, 9, 10, 25]):  # after the real sync; the last 150 % slower
        begin = now + dt.timedelta(minutes=i + 1)
        entry = AuditEntry("DataSync", "account", begin, begin + dt.timedelta(seconds=seconds))
        write_audit(h.meta, run, [entry], begin)
    maintenance = RunInfo("m1", "weekly_maintenance")
    vacuum_end = now - dt.timedelta(hours=1)
    entry = AuditEntry("Vacuum", "account", vacuum_end - dt.timedelta(hours=3), vacuum_end)
    write_audit(h.meta, maintenance, [entry], vacuum_end)
    found = _findings(h, now + dt.timedelta(hours=1))
    slow = found["slow_sync:account"]
    assert slow.firing and round(slow.value, 2) == 1.5
    assert found["maintenance_duration:*"].firing and found["maintenance_duration:*"].value == 3


def test_firing_and_resolution_are_alerted_once_each_and_kept_in_the_alert_log(
    account, make_config, harness_for
):
    h = _deleting_day(account, make_config, harness_for)
    transport = Alerts()
    notifier = Dispatcher([transport], h.meta, dt.timedelta(0))
    first = apply_findings(h.meta, notifier, list(_findings(h).values()), "r1")
    assert {f.key for f in first.fired} >= {"deleted_ratio:account"}
    sent = len(transport.sent)
    assert apply_findings(h.meta, notifier, list(_findings(h).values()), "r2").fired == []
    assert len(transport.sent) == sent  # still firing: not alerted again

    calm = harness_for(
        make_config(
            [account.config(max_delete_fraction=1)],
            alerts={"rules": {"deleted_ratio": {"threshold": 0.9}}},
        )
    )
    changes = apply_findings(calm.meta, notifier, list(_findings(calm).values()), "r3")
    assert [f.key for f in changes.resolved] == ["deleted_ratio:account"]
    resolved = transport.sent[-1]
    assert resolved.severity.value == "LOW" and "resolved" in resolved.subject
    classes = [r["ErrorClass"] for r in h.meta.rows(ALERT_LOG)]
    assert "RuleFiring:deleted_ratio" in classes and "RuleResolved:deleted_ratio" in classes


def test_the_rules_job_runs_every_four_hours_and_the_health_report_lists_rules(
    account, make_config, harness_for, dagster_home
):
    import dagster as dg

    h = harness_for(make_config([account.config()]))
    h.sync()
    defs = build_definitions(h.config)
    schedule = defs.resolve_schedule_def("monitoring_rules_schedule")
    assert schedule.cron_schedule == "0 */4 * * *"
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("monitoring_rules").execute_in_process(instance=instance)
    assert result.success
    published = publish_report(h.config, dt.datetime.now(dt.UTC).date())
    assert "## Rules (" in published.markdown and "| vacuum_retention | account |" in (
        published.markdown
    )


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("{nope: {}}", "rules.nope: unknown rule"),
        ("{deleted_ratio: {threshold: 5}}", "is a share and must be at most 1"),
        ("{slow_sync: {threshold: -1}}", "greater than or equal to 0"),
        ("{checkpoint_missing: {threshold: 0}}", "hours must be more than 0"),
        ("{tables: {ghost: {slow_sync: {}}}}", "alerts.rules.tables.ghost: not a configured"),
        ("{slow_sync: {severity: URGENT}}", "severity"),
    ],
)
def test_bad_rule_settings_are_config_errors(rules, message):
    text = (
        "source: {kind: sql, url: 'sqlite:///x.db'}\nbronze: {path: /tmp/b}\n"
        f"alerts: {{rules: {rules}}}\n"
        "tables: [{name: a, source: a, primary_key: id}]\n"
    )
    with pytest.raises(ConfigError, match=message):
        parse_config(text, {})


def test_the_rules_command_prints_findings_and_exits_1_while_one_fires(
    account, make_config, harness_for, capfd, monkeypatch, dagster_home
):
    h = harness_for(make_config([account.config(deleted_file_retention_days=14)]))
    h.sync()
    run = cli_runner(capfd, monkeypatch)
    done = run("rules", "--config", h.config.file, "--json")
    assert done.returncode == 1, done.stderr
    firing = {f["rule"] for f in json.loads(done.stdout) if f["firing"]}
    assert firing == {"vacuum_retention"}
    calm = make_config([account.config(vacuum_retention_hours=400)])  # above 14 days
    ok = run("rules", "--config", calm.file)
    assert ok.returncode == 0 and "vacuum_retention" in ok.stdout
