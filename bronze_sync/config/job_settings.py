"""Run-wide settings of the sync, rollback and purge jobs."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from bronze_sync.config.connections import StrictModel

DAILY_CRON = "0 6 * * *"
# Five cron fields (minute hour day month weekday); Dagster checks the values themselves.
CRON_PATTERN = r"^\s*[0-9A-Za-z*/,?-]+(\s+[0-9A-Za-z*/,?-]+){4}\s*$"


class SyncSettings(StrictModel):
    """Run-wide settings of the sync jobs."""

    max_parallel_tables: int = Field(5, ge=1)
    max_retries: int = Field(3, ge=0)
    retry_delay_seconds: float = Field(30.0, ge=0.0)
    staging_path: str | None = None
    # Bronze tables whose key diff would exceed this are diffed in hash partitions spilled to
    # staging; it also caps how many data files a commit rewrites at once.
    memory_budget_mb: int = Field(2048, ge=256)
    # Forces the number of key partitions (a power of two) instead of deriving it.
    diff_partitions: int | None = Field(None, ge=1, le=256)
    # A writer holds a table's lease this long between renewals (a crashed holder's lease
    # expires after it), and waits this long for a live holder before failing.
    lease_seconds: float = Field(120.0, ge=2.0)
    lease_wait_seconds: float = Field(600.0, ge=0.0)
    # A table's Daily checkpoint that fails after its commit is retried this often (back-off
    # from the delay, doubling); then the sync still succeeds, audited Warning, and alerts.
    checkpoint_retries: int = Field(2, ge=0, le=10)
    checkpoint_retry_delay_seconds: float = Field(2.0, ge=0.0, le=300.0)
    # A failed daily_sync / sync_partitions_<table> run is re-executed from its failed steps
    # this often by the daemon (Dagster run retries; 0: never).
    run_retries: int = Field(2, ge=0, le=10)
    # When daily_sync_schedule fires (UTC). Tests of a deployment set a near one ("* * * * *")
    # so the daemon's scheduler launches a run within a minute.
    daily_cron: str = DAILY_CRON

    @field_validator("daily_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not re.match(CRON_PATTERN, value):
            raise ValueError(
                f"{value!r} is not a cron schedule of five fields (e.g. {DAILY_CRON!r})"
            )
        return value.strip()

    @field_validator("diff_partitions")
    @classmethod
    def _power_of_two(cls, value: int | None) -> int | None:
        if value is not None and value & (value - 1):
            raise ValueError(f"sync.diff_partitions must be a power of two, got {value}")
        return value


class RollbackSettings(StrictModel):
    """Settings of rollback_to_checkpoint: approval and the impact risk thresholds."""

    require_approval: bool = True
    # Key of the approval-token HMAC; give it as ${VAR}. Empty: a secret generated once and kept
    # private under $DAGSTER_HOME/.bronze_sync/ or ~/.config/bronze_sync/ (rollback/secret.py).
    approval_secret: str = ""
    risk_high_fraction: float = Field(0.10, ge=0.0, le=1.0)
    risk_medium_fraction: float = Field(0.01, ge=0.0, le=1.0)
    risk_high_rows: int = Field(100_000, ge=1)


class PurgeSettings(StrictModel):
    """Settings of recording source purges."""

    # On: `bronze-sync purge` (and the purge job) only dry-runs and prints an approval token;
    # recording needs that token and the approver's name (the data governance sign-off).
    require_approval: bool = False


class LogRetentionSettings(StrictModel):
    """Days the operational logs keep their rows; weekly maintenance trims them (None: forever)."""

    SyncAuditLog: int | None = Field(None, ge=30)  # a hash chain: trimmed with a sealed floor
    DataValidation: int | None = Field(None, ge=1)
    AlertLog: int | None = Field(None, ge=1)

    def days(self) -> dict[str, int | None]:
        """Return table name -> retention days."""
        return {
            "SyncAuditLog": self.SyncAuditLog,
            "DataValidation": self.DataValidation,
            "AlertLog": self.AlertLog,
        }
