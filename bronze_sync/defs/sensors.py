"""Sensors: after every sync batch run, record its DailyBatch checkpoint."""

import dagster as dg

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import create_batch_checkpoint
from bronze_sync.clock import utc_now
from bronze_sync.defs.jobs import DAILY_SYNC
from bronze_sync.metadata import MetadataStore

PARTITION_TAG = "dagster/partition"


def batch_checkpoint_sensors(store: BronzeStore) -> list[dg.SensorDefinition]:
    """Return sensors that checkpoint a sync batch once its run ends (success or failure)."""

    def checkpoint(context: dg.RunStatusSensorContext) -> dg.SkipReason | None:
        run = context.dagster_run
        key = run.tags.get(PARTITION_TAG)
        if not key or not _syncs_bronze(run):
            return dg.SkipReason("not a bronze sync batch run")
        made = create_batch_checkpoint(
            MetadataStore(store), key, utc_now(), f"dagster run {run.run_id}"
        )
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
    if run.job_name == DAILY_SYNC:
        return True
    return any(key.path[0] == "bronze" for key in run.asset_selection or [])
