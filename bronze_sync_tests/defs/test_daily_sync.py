"""The daily_sync job, executed for real: parallel tables, isolation of failures, retries."""

from __future__ import annotations

import pytest

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.checkpoints import CheckpointType, list_checkpoints
from bronze_sync.cli.runner import dagster_instance, run_daily_sync
from bronze_sync.metadata import MetadataStore
from bronze_sync_tests.helpers import PgTable

KEY = "2026-11-23"


def step_windows(instance, run_id):
    starts, ends = {}, {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = record.timestamp
        if event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            ends[event.step_key] = record.timestamp
    return {k: (starts[k], ends[k]) for k in starts if k in ends}


def overlaps(windows):
    items = list(windows.values())
    return any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(items) for b in items[i + 1 :])


def tables(pg_engine, pg_schema, n=3, rows=20_000):
    made = []
    for i in range(n):
        t = PgTable(pg_engine, pg_schema, f"t{i}")
        t.execute(
            f"INSERT INTO {t.source} SELECT 'k' || g, 'n', 1.5, now(), now() FROM generate_series(1, {rows}) g"
        )
        made.append(t)
    return made


@pytest.mark.slow
def test_tables_sync_in_parallel_and_a_failure_stays_isolated(pg_engine, pg_schema, make_config):
    good = tables(pg_engine, pg_schema)
    ghost = {"name": "ghost", "source": f"{pg_schema}.ghost", "primary_key": "id"}
    config = make_config(
        [t.config() for t in good] + [ghost],
        sync={"max_parallel_tables": 3, "retry_delay_seconds": 0},
    )
    with dagster_instance() as instance:
        outcome = run_daily_sync(config, instance, KEY)
        windows = step_windows(instance, outcome.run_id)
        retries = [
            r
            for r in instance.all_logs(outcome.run_id)
            if r.dagster_event and r.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"
        ]
    status = {t.table: t for t in outcome.tables}
    assert not outcome.success
    assert [status[f"t{i}"].status for i in range(3)] == ["Success"] * 3
    assert status["t0"].figures["inserted"] == 20_000 and status["t0"].figures["delta_version"] == 0
    assert status["ghost"].status == "Failed" and "does not exist" in status["ghost"].error
    assert not retries  # a missing table is not a transient error
    assert overlaps(windows)
    assert outcome.checkpoint is not None
    assert set(outcome.checkpoint.table_versions) == {"t0", "t1", "t2"}


@pytest.mark.slow
def test_max_parallel_tables_one_runs_tables_one_at_a_time(pg_engine, pg_schema, make_config):
    good = tables(pg_engine, pg_schema, n=2, rows=5_000)
    config = make_config([t.config() for t in good], sync={"max_parallel_tables": 1})
    with dagster_instance() as instance:
        outcome = run_daily_sync(config, instance, KEY)
        assert outcome.success and not overlaps(step_windows(instance, outcome.run_id))


@pytest.mark.slow
def test_transient_source_error_is_retried_with_backoff(pg_engine, pg_schema, make_config):
    (good,) = tables(pg_engine, pg_schema, n=1, rows=10)
    config = make_config(
        [good.config()],
        source={
            "url": "postgresql+psycopg://postgres@127.0.0.1:1/test",
            "connect_timeout_seconds": 1,
        },
        sync={"max_retries": 2, "retry_delay_seconds": 0},
    )
    with dagster_instance() as instance:
        outcome = run_daily_sync(config, instance, KEY)
        retries = [
            r
            for r in instance.all_logs(outcome.run_id)
            if r.dagster_event and r.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"
        ]
    assert not outcome.success and len(retries) == 2
    assert "cannot reach" in outcome.tables[0].error


@pytest.mark.slow
def test_guard_failure_is_not_retried_and_override_works(pg_engine, pg_schema, make_config):
    (t,) = tables(pg_engine, pg_schema, n=1, rows=100)
    config = make_config([t.config()], sync={"retry_delay_seconds": 0})
    with dagster_instance() as instance:
        assert run_daily_sync(config, instance, "2026-11-22").success
        t.execute(f"DELETE FROM {t.source} WHERE id < 'k5'")
        blocked = run_daily_sync(config, instance, KEY)
        assert not blocked.success and "max_delete_fraction" in blocked.tables[0].error
        retries = [
            r
            for r in instance.all_logs(blocked.run_id)
            if r.dagster_event and r.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"
        ]
        assert not retries
        allowed = run_daily_sync(config, instance, KEY, allow_mass_delete=True)
    assert allowed.success and allowed.tables[0].figures["deleted"] > 10
    meta = MetadataStore(BronzeStore.from_config(config.bronze))
    names = {c.name for c in list_checkpoints(meta, kind=CheckpointType.DAILY_BATCH)}
    assert names == {"bronze_batch_2026-11-22", f"bronze_batch_{KEY}"}


@pytest.mark.slow
def test_materializations_link_the_history_versions_they_wrote(pg_engine, pg_schema, make_config):
    account = PgTable(pg_engine, pg_schema)
    account.insert_ids(["a", "b"])
    config = make_config([account.config()])
    with dagster_instance() as instance:
        run_daily_sync(config, instance, KEY)
        account.update(["a"], name="changed")
        outcome = run_daily_sync(config, instance, "2026-11-24")
        [event] = [
            r.dagster_event.event_specific_data.materialization
            for r in instance.all_logs(outcome.run_id)
            if r.dagster_event and r.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
        ]
    metadata = {k: v.value for k, v in event.metadata.items()}
    assert metadata["history_range"] == "v0..v1"
    assert (metadata["history_versions"], metadata["history_rows"]) == ("v1..v1", 1)
    assert metadata["history_feed"] == (
        "bronze-sync changes --table account --since-version 0 --until-version 1"
    )
    assert metadata["history_uri"].endswith("/history/account")
    # What the commit cost: the data files it rewrote out of those the table had.
    assert (metadata["files_rewritten"], metadata["files_total"]) == (1, 1)
