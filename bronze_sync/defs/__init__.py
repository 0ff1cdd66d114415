"""The Dagster layer: it only wires the domain code into assets, jobs, schedules, sensors."""

from __future__ import annotations

import dagster as dg

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config.models import Config
from bronze_sync.defs.assets import build_bronze_assets
from bronze_sync.defs.checkpoints import checkpoint_jobs, validate_checkpoints_schedule
from bronze_sync.defs.checks import build_asset_checks
from bronze_sync.defs.jobs import daily_sync_job, executor
from bronze_sync.defs.maintenance import maintenance_job, weekly_maintenance_schedule
from bronze_sync.defs.monitoring import (
    health_report_asset,
    health_report_schedule,
    monitoring_sensors,
    reset_breaker_job,
)
from bronze_sync.defs.partition_values import partition_jobs, partitioned_tables
from bronze_sync.defs.purge import purge_job
from bronze_sync.defs.resources import bronze_resource, source_resource
from bronze_sync.defs.rollback import rollback_job
from bronze_sync.defs.schedules import build_daily_sync_schedule
from bronze_sync.defs.sensors import batch_checkpoint_sensors, partition_value_sensor


def build_definitions(config: Config) -> dg.Definitions:
    """Return the code location's definitions for a configuration."""
    max_parallel = config.sync.max_parallel_tables
    report_job, report_schedule = health_report_schedule()
    value_jobs = partition_jobs(config, executor(max_parallel))
    partitioned = [t.name for t in partitioned_tables(config)]
    return dg.Definitions(
        assets=[*build_bronze_assets(config), health_report_asset(config)],
        asset_checks=build_asset_checks(config),
        jobs=[
            daily_sync_job(max_parallel, partitioned),
            *value_jobs,
            purge_job(config),
            *checkpoint_jobs(config),
            rollback_job(config),
            maintenance_job(config),
            reset_breaker_job(config),
            report_job,
        ],
        schedules=[
            build_daily_sync_schedule(config.sync.daily_cron),
            validate_checkpoints_schedule,
            weekly_maintenance_schedule,
            report_schedule,
        ],
        sensors=[
            *batch_checkpoint_sensors(BronzeStore.from_config(config.bronze)),
            *monitoring_sensors(config),
            *partition_value_sensor(config, value_jobs),
        ],
        resources={"source": source_resource(config), "bronze": bronze_resource(config)},
        executor=executor(max_parallel),
    )
