"""Schedules: the daily sync, at 06:00 UTC unless `sync.daily_cron` says otherwise."""

import dagster as dg

from bronze_sync.config.job_settings import DAILY_CRON
from bronze_sync.defs.jobs import DAILY_SYNC
from bronze_sync.defs.partitions import ensure_partition


def build_daily_sync_schedule(cron: str = DAILY_CRON) -> dg.ScheduleDefinition:
    """Return daily_sync_schedule firing on `cron` (UTC)."""

    @dg.schedule(
        name="daily_sync_schedule",
        cron_schedule=cron,
        job_name=DAILY_SYNC,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Register the day's sync batch (YYYY-MM-DD, UTC) and sync every table for it.",
    )
    def daily_sync_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        """Add the day's partition key and request the daily_sync run for it."""
        key = context.scheduled_execution_time.date().isoformat()
        ensure_partition(context.instance, key)
        # The run key is the day: a cron firing more than once a day (a test's) syncs it once.
        return dg.RunRequest(run_key=key, partition_key=key)

    return daily_sync_schedule


daily_sync_schedule = build_daily_sync_schedule()
