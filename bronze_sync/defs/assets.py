"""One software-defined asset per configured table, generated from the YAML config.

Every table's asset syncs it for one `sync_batches` day, except a partitioned table's: that
one is partitioned by the table's own values (see defs/partition_values.py).
"""

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg

from bronze_sync.alerts import Notifier, notifier_for
from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.clock import utc_now
from bronze_sync.config.kinds import KIND_DESCRIPTIONS, PARTITIONED, SCD2, STATIC
from bronze_sync.config.models import Config, TableConfig
from bronze_sync.defs.k8s import k8s_op_tags
from bronze_sync.defs.partition_values import SYNC_BATCH_TAG, value_partitions
from bronze_sync.defs.partitions import sync_batches
from bronze_sync.defs.resources import BronzeStorageResource, SourceResource
from bronze_sync.errors import BronzeSyncError
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.monitoring.breaker import skip_if_open
from bronze_sync.sources.base import Source
from bronze_sync.sync import SyncJob, SyncResult, run_table_sync
from bronze_sync.sync.partition_plan import requested_values
from bronze_sync.sync.partitioned import describe_values

GROUP = "bronze"
# Returns the partition values a run (re)loads, from the open source and bronze.
ValueChoice = Callable[[Source, BronzeStore], tuple[Any, ...]]
# The raw metadata values a materialization carries (Dagster wraps each; bool is an int).
Metadata = dict[str, dg.MetadataValue | str | int | float]


class SyncAssetConfig(dg.Config):
    """Run-time options of one table's sync."""

    allow_mass_delete: bool = False


def asset_key(table: str) -> dg.AssetKey:
    """Return the asset key of bronze table `table`."""
    return dg.AssetKey(["bronze", table])


def kind_settings(table: TableConfig) -> dict[str, str]:
    """Return the settings of the table's kind, as shown with its asset."""
    if table.kind == PARTITIONED:
        return {
            "partition_column": table.partition_column or "",
            "initial_partitions": str(table.initial_partitions),
        }
    if table.kind == SCD2:
        return {
            "business_key": ", ".join(table.business_key),
            "latest_column": table.latest_column or "",
            "initial_load_days": str(table.initial_load_days),
        }
    if table.kind == STATIC:
        return {"static_mode": table.static_mode}
    return {}


def asset_description(table: TableConfig) -> str:
    """Return the asset's description: source, key, kind and the kind's settings."""
    settings = "; ".join(f"{k} {v}" for k, v in kind_settings(table).items())
    kind = f"Kind **{table.kind}**: {KIND_DESCRIPTIONS[table.kind]}"
    kind += f" ({settings})." if settings else "."
    layout = (
        f" One partition per {table.partition_column} value: a run or backfill (re)loads "
        "its values in one sync."
        if table.kind == PARTITIONED
        else ""
    )
    return (
        f"Bronze copy of `{table.source}` (key {', '.join(table.primary_key)}). {kind}{layout} "
        "Rows gone from the source are flagged IsDeleted or IsPurged, never removed."
    )


def asset_arguments(table: TableConfig, config: Config) -> dict[str, Any]:
    """Return the @asset arguments every bronze table shares (key, pool, retries, metadata)."""
    settings = config.sync
    return {
        "key": asset_key(table.name),
        "group_name": GROUP,
        "kinds": {"deltalake", config.source.kind},
        "pool": f"bronze_{table.name}",
        "op_tags": k8s_op_tags(table),  # the step pod's resources under the k8s executor
        "output_required": False,  # a table whose circuit breaker is open is skipped
        "retry_policy": dg.RetryPolicy(
            max_retries=settings.max_retries,
            delay=settings.retry_delay_seconds,
            backoff=dg.Backoff.EXPONENTIAL,
            jitter=dg.Jitter.PLUS_MINUS,
        ),
        "description": asset_description(table),
        "metadata": {
            "source": table.source,
            "primary_key": ", ".join(table.primary_key),
            "created_column": table.created_column or "",
            "modified_column": table.modified_column or "(full extraction)",
            "kind": table.kind,
            "size": table.size,
            **kind_settings(table),
        },
    }


@dataclass(frozen=True)
class TableStep:
    """One table's sync as an asset step runs it: breaker, retries, failures, metadata."""

    table: TableConfig
    config: Config
    notifier: Notifier

    def sync(
        self,
        context: dg.AssetExecutionContext,
        allow_mass_delete: bool,
        source: SourceResource,
        bronze: BronzeStorageResource,
        batch: str,
        choose_values: ValueChoice | None = None,
    ) -> Iterator[dg.MaterializeResult]:
        """Sync the table for sync batch `batch`; yield its materialization (none if skipped)."""
        table, settings = self.table, self.config.sync
        store = bronze.store()
        with source.open_source() as src:
            job = self._job(context, src, store, bronze, allow_mass_delete, batch)
            skipped = skip_if_open(job, table, self.config.alerts.breaker_failures)
            if skipped:
                context.log.warning(f"{table.name} skipped: {skipped}")
                return
            try:
                if choose_values is not None:
                    job.partition_values = choose_values(src, store)
                    context.log.info(f"partition values: {describe_values(job.partition_values)}")
                result = run_table_sync(job, table)
            except BronzeSyncError as exc:
                if exc.retryable and context.retry_number < settings.max_retries:
                    raise  # the retry policy runs the step again
                raise dg.Failure(
                    description=failure_description(exc, context.retry_number + 1),
                    metadata={"error": type(exc).__name__, "table": table.name},
                    allow_retries=False,
                ) from None
            except Exception as exc:
                raise dg.Failure(
                    description=f"{type(exc).__name__}: {exc}",
                    metadata={"error": type(exc).__name__, "table": table.name},
                    allow_retries=False,
                ) from exc
        yield dg.MaterializeResult(
            metadata=materialization_metadata(result, store.table_uri(table.name))
        )

    def _job(
        self,
        context: dg.AssetExecutionContext,
        src: Source,
        store: BronzeStore,
        bronze: BronzeStorageResource,
        allow_mass_delete: bool,
        batch: str,
    ) -> SyncJob:
        settings = self.config.sync
        return SyncJob(
            source=src,
            store=store,
            meta=MetadataStore(store),
            run=RunInfo(
                run_id=context.run.run_id, pipeline_name=context.run.job_name, partition_key=batch
            ),
            allow_mass_delete=allow_mass_delete,
            staging_root=bronze.staging_path,
            memory_budget_mb=settings.memory_budget_mb,
            diff_partitions=settings.diff_partitions,
            lease_seconds=settings.lease_seconds,
            lease_wait_seconds=settings.lease_wait_seconds,
            checkpoint_retries=settings.checkpoint_retries,
            checkpoint_retry_delay=settings.checkpoint_retry_delay_seconds,
            progress=lambda _t, stage, message: context.log.info(f"{stage}: {message}"),
            created_by=f"dagster run {context.run.run_id}",
            notifier=self.notifier,
        )


def build_bronze_asset(table: TableConfig, config: Config) -> dg.AssetsDefinition:
    """Return the asset that syncs `table` for one sync batch."""
    step = TableStep(table, config, notifier_for(config))

    @dg.asset(partitions_def=sync_batches, **asset_arguments(table, config))
    def _sync(
        context: dg.AssetExecutionContext,
        config: SyncAssetConfig,
        source: SourceResource,
        bronze: BronzeStorageResource,
    ) -> Iterator[dg.MaterializeResult]:
        yield from step.sync(
            context, config.allow_mass_delete, source, bronze, context.partition_key
        )

    return _sync


def build_partitioned_asset(table: TableConfig, config: Config) -> dg.AssetsDefinition:
    """Return the asset of a partitioned table: its partition keys are the table's values."""
    step = TableStep(table, config, notifier_for(config))

    def _sync(
        context: dg.AssetExecutionContext,
        config: SyncAssetConfig,
        source: SourceResource,
        bronze: BronzeStorageResource,
    ) -> Iterator[dg.MaterializeResult]:
        keys = list(context.partition_keys)

        def choose(src: Source, store: BronzeStore) -> tuple[Any, ...]:
            return requested_values(src, store, table, keys)

        batch = run_sync_batch(context)
        yield from step.sync(context, config.allow_mass_delete, source, bronze, batch, choose)

    with warnings.catch_warnings():
        # backfill_policy is marked beta; the warning would print on every definitions load.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.asset(
            partitions_def=value_partitions(table.name),
            backfill_policy=dg.BackfillPolicy.single_run(),  # a range reloads in ONE sync
            **asset_arguments(table, config),
        )(_sync)


def run_sync_batch(context: dg.AssetExecutionContext) -> str:
    """Return the run's sync batch day; tag a run without one (UI backfills) with today's."""
    batch = context.run.tags.get(SYNC_BATCH_TAG)
    if batch:
        return batch
    batch = utc_now().date().isoformat()
    # The run sensors read the tag: the batch checkpoint then includes this table's Daily one.
    context.instance.add_run_tags(context.run.run_id, {SYNC_BATCH_TAG: batch})
    return batch


def failure_description(exc: BronzeSyncError, attempts: int) -> str:
    """Return the one line a failed sync reports: the error, and the attempts of a retried one."""
    text = " ".join(str(exc).split())
    plural = "" if attempts == 1 else "s"
    return f"{text} (gave up after {attempts} attempt{plural})" if exc.retryable else text


def materialization_metadata(result: SyncResult, uri: str) -> Metadata:
    """Return the metadata shown with a bronze materialization."""
    figures: Metadata = {k: v for k, v in result.metadata().items() if v is not None}
    figures.update(
        {
            "mode": result.mode,
            "committed": result.committed,
            "total_rows": result.counts.get("total", 0),
            "active_rows": result.counts.get("active", 0),
            "deleted_rows": result.counts.get("deleted", 0),
            "purged_rows": result.counts.get("purged", 0),
            "full_key_scan": result.full_key_scan,
            "dagster/row_count": result.counts.get("total", 0),
            "dagster/uri": uri,
            "phases": dg.MetadataValue.json({k: round(v, 3) for k, v in result.phases.items()}),
        }
    )
    if result.partition_values is not None:
        figures["partition_values"] = describe_values(result.partition_values)
    if result.skip_reason:
        figures["skip_reason"] = result.skip_reason
    if result.checkpoint_error:
        figures["checkpoint_error"] = result.checkpoint_error
    for what, keys in result.samples.items():
        figures[f"sample_{what}"] = keys
    figures.update(history_metadata(result, uri))
    return figures


def history_metadata(result: SyncResult, uri: str) -> Metadata:
    """Return where this sync's rows are in the row history, and how to read them."""
    if result.history_error:
        return {"history_error": result.history_error}
    if result.history_through is None:
        return {}
    root, _, name = uri.rpartition("/")
    figures: Metadata = {
        "history_range": f"v{result.history_first}..v{result.history_through}",
        "history_uri": dg.MetadataValue.path(f"{root}/history/{name}"),
    }
    if result.history_rows:
        first, last = min(result.history_rows), max(result.history_rows)
        figures["history_versions"] = f"v{first}..v{last}"
        figures["history_rows"] = sum(result.history_rows.values())
        figures["history_feed"] = (
            f"bronze-sync changes --table {name} --since-version {first - 1} --until-version {last}"
        )
    return figures


def build_bronze_assets(config: Config) -> list[dg.AssetsDefinition]:
    """Return one asset per enabled table (a partitioned table's keyed by its values)."""
    return [
        build_partitioned_asset(t, config)
        if t.kind == PARTITIONED
        else build_bronze_asset(t, config)
        for t in config.enabled_tables()
    ]
