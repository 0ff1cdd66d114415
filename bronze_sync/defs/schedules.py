"""Schedules: the daily sync at 06:00 UTC."""

import dagster as dg

from bronze_sync.defs.jobs import DAILY_SYNC
from bronze_sync.defs.partitions import ensure_partition


@dg.schedule(
    name="daily_sync_schedule",
    cron_schedule="0 6 * * *",
    job_name=DAILY_SYNC,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Register the day's sync batch (YYYY-MM-DD, UTC) and sync every table for it.",
)
def daily_sync_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Add the day's partition key and request the daily_sync run for it."""
    key = context.scheduled_execution_time.date().isoformat()
    ensure_partition(context.instance, key)
    return dg.RunRequest(run_key=key, partition_key=key)
