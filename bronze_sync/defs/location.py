"""The code location: every definition of a configuration, and its jobs resolved by name.

The top of the Dagster layer: it imports the other defs modules, none of them imports it,
and `bronze_sync.definitions` (what Dagster loads) only calls `load_definitions`. The CLI
runs jobs through the loaders below, which step processes call again to rebuild a job.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import dagster as dg

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.config import load_config, resolve_config_path
from bronze_sync.config.models import Config, SqlSourceConfig
from bronze_sync.config.profiles import profile_from_env
from bronze_sync.defs.assets import build_bronze_assets
from bronze_sync.defs.audit_chain import audit_chain_intact
from bronze_sync.defs.checkpoints import (
    MANUAL_JOB,
    RETIRE_JOB,
    VALIDATE_JOB,
    checkpoint_jobs,
    validate_checkpoints_schedule,
)
from bronze_sync.defs.checks import build_asset_checks
from bronze_sync.defs.dataverse_resource import dataverse_resource
from bronze_sync.defs.jobs import DAILY_SYNC, daily_sync_job, executor, sync_job_tags
from bronze_sync.defs.maintenance import (
    MAINTENANCE_JOB,
    maintenance_job,
    weekly_maintenance_schedule,
)
from bronze_sync.defs.monitoring import (
    health_report_asset,
    health_report_schedule,
    monitoring_sensors,
    reset_breaker_job,
)
from bronze_sync.defs.partition_values import partition_jobs, partitioned_tables
from bronze_sync.defs.purge import PURGE_JOB, purge_job
from bronze_sync.defs.resources import (
    SourceResource,
    SqlSourceResource,
    bronze_resource,
    env_or_template,
)
from bronze_sync.defs.rollback import ROLLBACK_JOB, rollback_job
from bronze_sync.defs.rules import rules_job, rules_schedule
from bronze_sync.defs.schedules import build_daily_sync_schedule
from bronze_sync.defs.sensors import batch_checkpoint_sensors, partition_value_sensor
from bronze_sync.errors import ConfigError


def build_definitions(config: Config) -> dg.Definitions:
    """Return the code location's definitions for a configuration."""
    max_parallel = config.sync.max_parallel_tables
    report_job, report_schedule = health_report_schedule()
    monitoring_rules = rules_job(config)
    sync_tags = sync_job_tags(config.sync.run_retries, config.profile)
    value_jobs = partition_jobs(config, executor(max_parallel), sync_tags)
    partitioned = [t.name for t in partitioned_tables(config)]
    return dg.Definitions(
        assets=[*build_bronze_assets(config), health_report_asset(config)],
        asset_checks=[*build_asset_checks(config), audit_chain_intact],
        jobs=[
            daily_sync_job(max_parallel, partitioned, sync_tags),
            *value_jobs,
            purge_job(config),
            *checkpoint_jobs(config),
            rollback_job(config),
            maintenance_job(config),
            reset_breaker_job(config),
            report_job,
            monitoring_rules,
        ],
        schedules=[
            build_daily_sync_schedule(config.sync.daily_cron),
            validate_checkpoints_schedule,
            weekly_maintenance_schedule,
            report_schedule,
            rules_schedule(monitoring_rules),
        ],
        sensors=[
            *batch_checkpoint_sensors(BronzeStore.from_config(config.bronze)),
            *monitoring_sensors(config),
            *partition_value_sensor(config, value_jobs),
        ],
        resources={"source": source_resource(config), "bronze": bronze_resource(config)},
        executor=executor(max_parallel),
        metadata={"config_file": config.file or "", "profile": config.profile or "(none)"},
    )


def source_resource(config: Config) -> SourceResource:
    """Return the source resource for the configuration."""
    source = config.source
    if isinstance(source, SqlSourceConfig):
        return SqlSourceResource(
            url=env_or_template(config, "source", "url"),
            fast_path=source.fast_path,
            connect_timeout_seconds=source.connect_timeout_seconds,
        )
    if source.kind == "dataverse":
        return dataverse_resource(config, lambda *path: env_or_template(config, *path))
    raise ConfigError(f"source.kind: {source.kind!r} has no Dagster resource")


def load_definitions() -> dg.Definitions:
    """Return the definitions for the configured YAML file ($BRONZE_SYNC_CONFIG or the demo)."""
    path = resolve_config_path(None).absolute()
    profile = profile_from_env(os.environ)  # $BRONZE_SYNC_PROFILE (`--profile` exports it)
    # Keyed by file, mtime and profile: one process may run jobs of several configurations.
    mtime_ns = path.stat().st_mtime_ns if path.exists() else 0
    return _definitions_for(str(path), mtime_ns, profile)


@functools.cache
def _definitions_for(path: str, mtime_ns: int, profile: str | None) -> dg.Definitions:
    return build_definitions(load_config(path, profile=profile or ""))


def load_daily_sync_job() -> dg.JobDefinition:
    """Return the resolved daily_sync job of the configured code location (reconstructable)."""
    return load_definitions().resolve_job_def(DAILY_SYNC)


def load_partition_job(job_name: str) -> dg.JobDefinition:
    """Return a partitioned table's resolved job of the configured code location."""
    return load_definitions().resolve_job_def(job_name)


def reconstructable_partition_job(job_name: str) -> Any:
    """Return the job of a partitioned table as step processes rebuild it (a ReconstructableJob)."""
    return dg.build_reconstructable_job(
        __name__, load_partition_job.__name__, reconstructable_args=(job_name,)
    )


def load_purge_job() -> dg.JobDefinition:
    """Return the resolved purge job of the configured code location (reconstructable)."""
    return load_definitions().resolve_job_def(PURGE_JOB)


def load_rollback_job() -> dg.JobDefinition:
    """Return the resolved rollback job of the configured code location (reconstructable)."""
    return load_definitions().resolve_job_def(ROLLBACK_JOB)


def load_maintenance_job() -> dg.JobDefinition:
    """Return the resolved weekly_maintenance job (reconstructable)."""
    return load_definitions().resolve_job_def(MAINTENANCE_JOB)


def load_manual_checkpoint_job() -> dg.JobDefinition:
    """Return the resolved create_manual_checkpoint job (reconstructable)."""
    return load_definitions().resolve_job_def(MANUAL_JOB)


def load_retire_checkpoint_job() -> dg.JobDefinition:
    """Return the resolved retire_checkpoint job (reconstructable)."""
    return load_definitions().resolve_job_def(RETIRE_JOB)


def load_validate_checkpoints_job() -> dg.JobDefinition:
    """Return the resolved validate_checkpoints job (reconstructable)."""
    return load_definitions().resolve_job_def(VALIDATE_JOB)
