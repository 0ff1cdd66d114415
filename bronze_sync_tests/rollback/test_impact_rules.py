"""Risk thresholds and related-table warnings of the impact analysis."""

from __future__ import annotations

import datetime as dt

from bronze_sync.checkpoints import Checkpoint, CheckpointType
from bronze_sync.rollback.compare import Comparison
from bronze_sync.rollback.impact import Risk, related_warnings, risk_of

COUNTS = {"total": 1000, "active": 1000, "deleted": 0, "purged": 0}


def comparison(unchanged: int) -> Comparison:
    return Comparison("account", 3, 0, COUNTS, COUNTS, unchanged=unchanged)


def test_risk_follows_the_configured_thresholds(make_config):
    config = make_config(
        [{"name": "account", "source": "s.account", "primary_key": "id"}],
        rollback={"risk_high_fraction": 0.5, "risk_medium_fraction": 0.1, "risk_high_rows": 900},
    )
    assert risk_of(comparison(1000), config.rollback) == Risk.LOW
    assert risk_of(comparison(950), config.rollback) == Risk.LOW
    assert risk_of(comparison(850), config.rollback) == Risk.MEDIUM
    assert risk_of(comparison(400), config.rollback) == Risk.HIGH


def test_related_tables_left_out_of_the_scope_are_warned_about(make_config):
    config = make_config(
        [
            {"name": "account", "source": "s.account", "primary_key": "id"},
            {
                "name": "contact",
                "source": "s.contact",
                "primary_key": "id",
                "related_tables": ["account"],
            },
        ]
    )
    now = dt.datetime.now(dt.UTC)
    checkpoint = Checkpoint(
        "id",
        "good",
        CheckpointType.MANUAL,
        now,
        {"account": 0, "contact": 0},
        0,
        "Validated",
        now.date(),
        True,
    )
    (warning,) = related_warnings(config, "account", {"account"}, checkpoint)
    assert "related table contact is not rolled back (add it to the scope)" in warning
    assert related_warnings(config, "account", {"account", "contact"}, checkpoint) == ()
