"""Orphan checks over `references` and the RollbackValidationReports table."""

from __future__ import annotations

import json

import pytest

from bronze_sync.config.loader import parse_config
from bronze_sync.errors import ConfigError
from bronze_sync.rollback.execution_report import ROLLBACK_VALIDATION_REPORTS
from bronze_sync.rollback.integrity import orphan_checks
from bronze_sync_tests.helpers import PgTable
from bronze_sync_tests.rollback.scenario import Alerts, checkpoint, rollback


@pytest.fixture
def h(pg_engine, pg_schema, make_config, harness_for):
    account = PgTable(pg_engine, pg_schema, "account")
    account.insert_ids(["a1", "a2", "a3"])
    contact = PgTable(pg_engine, pg_schema, "contact")
    contact.execute(f'alter table "{pg_schema}"."contact" add column accountid text')
    contact.insert_ids(["c1", "c2"])
    contact.execute(f'update "{pg_schema}"."contact" set accountid = \'a\' || substr(id, 2)')
    config = make_config(
        [
            account.config(),
            contact.config(name="contact", references={"accountid": "account"}),
        ]
    )
    h = harness_for(config)
    h.sync("account")
    h.sync("contact")
    checkpoint(h, "good")
    account.insert_ids(["a4"])
    contact.insert_ids(["c4"])
    contact.execute(f"update \"{pg_schema}\".\"contact\" set accountid = 'a4' where id = 'c4'")
    h.sync("account")
    h.sync("contact")
    h.alerts = Alerts()
    return h


def test_rolling_back_a_parent_alone_predicts_reports_and_scores_its_orphans(h):
    current = {"account": h.delta("account").version()}
    assert all(c.passed for c in orphan_checks(h.store, h.config, current))

    dry = rollback(h, "good", tables=("account",))
    (impact,) = dry.plan.report.tables
    (warning,) = [w for w in impact.warnings if "would reference" in w]
    assert "1 active contact row(s)" in warning and "e.g. a4" in warning

    done = rollback(h, "good", tables=("account",), dry_run=False, approval_token=dry.plan.token)
    (check,) = done.orphans
    assert (check.orphans, check.samples) == (1, ("a4",))
    (row,) = h.meta.rows(ROLLBACK_VALIDATION_REPORTS)
    assert (row["TableName"], row["TablesAffected"], row["OrphanRows"]) == ("account", "account", 1)
    assert row["ValidationStatus"] == "Fail" and row["QualityScore"] == 90
    assert (row["RowsBefore"], row["RowsAfter"], row["RowsRemoved"]) == (4, 3, 1)
    assert row["PercentLost"] == 25.0 and "roll back the related tables" in row["Recommendations"]
    assert "contact.accountid -> account.id" in json.loads(row["Issues"])[0]
    assert json.loads(row["Detail"])["counts_after"]["total"] == 3


def test_rolling_back_both_tables_leaves_no_orphan_and_passes(h):
    dry = rollback(h, "good")
    assert not [w for t in dry.plan.report.tables for w in t.warnings if "would reference" in w]
    done = rollback(h, "good", dry_run=False, approval_token=dry.plan.token)
    assert done.success and all(c.passed for c in done.orphans)
    rows = {r["TableName"]: r for r in h.meta.rows(ROLLBACK_VALIDATION_REPORTS)}
    assert {t: (r["ValidationStatus"], r["QualityScore"]) for t, r in rows.items()} == {
        "account": ("Pass", 100),
        "contact": ("Pass", 100),
    }
    assert rows["contact"]["Recommendations"].startswith("none")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("ghost", "names table 'ghost', which is not configured"),
        ("a.b.c", "references: .b.c. is not a valid column name"),
    ],
)
def test_a_reference_to_an_unknown_table_is_a_config_error(target, message):
    text = (
        "source: {kind: sql, url: 'sqlite:///x.db'}\nbronze: {path: /tmp/b}\n"
        "tables: [{name: a, source: a, primary_key: id},\n"
        f"  {{name: c, source: c, primary_key: id, references: {{aid: '{target}'}}}}]\n"
    )
    with pytest.raises(ConfigError, match=message):
        parse_config(text, {})
