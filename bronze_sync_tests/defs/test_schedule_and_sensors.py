"""The daily schedule registers the day's key; the batch sensor records the checkpoint."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import CheckpointType, create_checkpoint, daily_name, list_checkpoints
from bronze_sync.defs.partitions import SYNC_BATCHES
from bronze_sync.defs.schedules import daily_sync_schedule
from bronze_sync.defs.sensors import batch_checkpoint_sensors
from bronze_sync.metadata import MetadataStore


def test_schedule_adds_the_days_key_and_requests_the_run():
    with dg.instance_for_test() as instance:
        when = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
        request = daily_sync_schedule(context)
        assert isinstance(request, dg.RunRequest)
        assert request.partition_key == "2026-11-23" and request.run_key == "2026-11-23"
        assert instance.get_dynamic_partitions(SYNC_BATCHES) == ["2026-11-23"]
        daily_sync_schedule(context)  # evaluating twice does not add the key twice
        assert instance.get_dynamic_partitions(SYNC_BATCHES) == ["2026-11-23"]


def test_batch_sensor_records_checkpoint_from_daily_checkpoints(tmp_path):
    import pyarrow as pa
    from deltalake import write_deltalake

    store = BronzeStore(str(tmp_path))
    write_deltalake(store.table_uri("a"), pa.table({"id": [1]}))
    meta = MetadataStore(store)
    now = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    create_checkpoint(meta, daily_name("2026-11-23", "a"), CheckpointType.DAILY, {"a": 0}, now, "t")
    on_success = batch_checkpoint_sensors(store)[0]
    with dg.instance_for_test() as instance:
        run = dg.DagsterRun(
            job_name="daily_sync", run_id="r1", tags={"dagster/partition": "2026-11-23"}
        )
        context = dg.build_run_status_sensor_context(
            sensor_name=on_success.name,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=dg.DagsterEvent(
                event_type_value="PIPELINE_SUCCESS", job_name="daily_sync"
            ),
        )
        on_success(context)
    batches = list_checkpoints(meta, kind=CheckpointType.DAILY_BATCH)
    assert [b.name for b in batches] == ["bronze_batch_2026-11-23"]
