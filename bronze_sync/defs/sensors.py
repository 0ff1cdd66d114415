"""Sensors: record a sync batch's DailyBatch checkpoint; discover new partition values."""

from collections.abc import Sequence

import dagster as dg

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import create_batch_checkpoint
from bronze_sync.checkpoints.repair import repair_checkpoints
from bronze_sync.clock import utc_now
from bronze_sync.config.models import Config
from bronze_sync.defs.jobs import DAILY_SYNC
from bronze_sync.defs.partition_values import (
    is_partition_job,
    missing_keys,
    new_value_requests,
    partitioned_tables,
    partitions_name,
    sync_batch_key,
)
from bronze_sync.defs.resources import BronzeStorageResource, SourceResource
from bronze_sync.errors import BronzeSyncError
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.sync.partition_plan import discover_values

PARTITION_SENSOR = "partition_value_sensor"
PARTITION_SENSOR_SECONDS = 600  # each tick asks the source for its distinct values


def batch_checkpoint_sensors(store: BronzeStore) -> list[dg.SensorDefinition]:
    """Return sensors that checkpoint a sync batch once its run ends (success or failure).

    First they record the Daily checkpoints that syncs could not (CR-001 §6).
    """

    def checkpoint(context: dg.RunStatusSensorContext) -> dg.SkipReason | None:
        run = context.dagster_run
        key = sync_batch_key(run)
        if not key or not _syncs_bronze(run):
            return dg.SkipReason("not a bronze sync batch run")
        meta, by = MetadataStore(store), f"dagster run {run.run_id}"
        # A table that synced without its Daily checkpoint gets it now, so the batch has it.
        for late in repair_checkpoints(
            meta, store, RunInfo(run.run_id, run.job_name, key), utc_now(), by
        ):
            context.log.warning(f"recorded the missing checkpoint {late.name}")
        made = create_batch_checkpoint(meta, key, utc_now(), by)
        if made is None:
            return dg.SkipReason(f"no table of batch {key} has a Daily checkpoint")
        context.log.info(f"checkpoint {made.name}: {made.table_versions}")
        return None

    on_success = dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name="batch_checkpoint_on_success",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Record the DailyBatch checkpoint of a sync batch after its run succeeds.",
    )(checkpoint)
    on_failure = dg.run_failure_sensor(
        name="batch_checkpoint_on_failure",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Record the DailyBatch checkpoint (tables that succeeded) after a run fails.",
    )(checkpoint)
    return [on_success, on_failure]


def _syncs_bronze(run: dg.DagsterRun) -> bool:
    if run.job_name == DAILY_SYNC or is_partition_job(run.job_name):
        return True
    return any(key.path[0] == "bronze" for key in run.asset_selection or [])


def partition_value_sensor(
    config: Config, jobs: "Sequence[dg.UnresolvedAssetJobDefinition]"
) -> list[dg.SensorDefinition]:
    """Return the sensor that registers every partitioned table's values and loads new ones."""
    tables = partitioned_tables(config)
    if not tables:
        return []

    @dg.sensor(
        name=PARTITION_SENSOR,
        jobs=list(jobs),
        minimum_interval_seconds=PARTITION_SENSOR_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Register the partition values the source or bronze holds of every "
        "partitioned table, and request the run that loads the new ones.",
    )
    def _discover(
        context: dg.SensorEvaluationContext, source: SourceResource, bronze: BronzeStorageResource
    ) -> dg.SensorResult:
        store, batch = bronze.store(), utc_now().date().isoformat()
        adds: list[dg.AddDynamicPartitionsRequest] = []
        requests: list[dg.RunRequest] = []
        with source.open_source() as src:
            for table in tables:
                try:
                    found = discover_values(src, store, table)
                except BronzeSyncError as exc:  # one table's problem must not stop the others
                    context.log.warning(f"{table.name}: partition values not read: {exc}")
                    continue
                name = partitions_name(table.name)
                missing = missing_keys(context.instance, table.name, found.keys)
                if missing:
                    adds.append(dg.AddDynamicPartitionsRequest(name, missing))
                registered = [*context.instance.get_dynamic_partitions(name), *missing]
                requests += new_value_requests(table.name, registered, found.new_keys, batch)
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=adds)

    return [_discover]
