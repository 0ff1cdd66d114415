"""One software-defined asset per configured table, generated from the YAML config."""

from collections.abc import Iterator

import dagster as dg

from bronze_sync.alerts import notifier_for
from bronze_sync.config.models import Config, TableConfig
from bronze_sync.defs.partitions import sync_batches
from bronze_sync.defs.resources import BronzeStorageResource, SourceResource
from bronze_sync.errors import BronzeSyncError
from bronze_sync.metadata import MetadataStore, RunInfo
from bronze_sync.monitoring.breaker import skip_if_open
from bronze_sync.sync import SyncJob, SyncResult, run_table_sync

GROUP = "bronze"


class SyncAssetConfig(dg.Config):
    """Run-time options of one table's sync."""

    allow_mass_delete: bool = False


def asset_key(table: str) -> dg.AssetKey:
    """Return the asset key of bronze table `table`."""
    return dg.AssetKey(["bronze", table])


def build_bronze_asset(table: TableConfig, config: Config) -> dg.AssetsDefinition:
    """Return the asset that syncs `table` for one sync batch."""
    settings = config.sync
    notifier = notifier_for(config)
    breaker_failures = config.alerts.breaker_failures

    @dg.asset(
        key=asset_key(table.name),
        partitions_def=sync_batches,
        group_name=GROUP,
        kinds={"deltalake", config.source.kind},
        pool=f"bronze_{table.name}",
        output_required=False,  # a table whose circuit breaker is open is skipped
        retry_policy=dg.RetryPolicy(
            max_retries=settings.max_retries,
            delay=settings.retry_delay_seconds,
            backoff=dg.Backoff.EXPONENTIAL,
            jitter=dg.Jitter.PLUS_MINUS,
        ),
        description=(
            f"Bronze copy of `{table.source}` (key {', '.join(table.primary_key)}). Changed "
            "rows are merged; rows gone from the source are flagged IsDeleted or IsPurged, "
            "never removed."
        ),
        metadata={
            "source": table.source,
            "primary_key": ", ".join(table.primary_key),
            "created_column": table.created_column or "",
            "modified_column": table.modified_column or "(full extraction)",
        },
    )
    def _sync(
        context: dg.AssetExecutionContext,
        config: SyncAssetConfig,
        source: SourceResource,
        bronze: BronzeStorageResource,
    ) -> Iterator[dg.MaterializeResult]:
        store = bronze.store()
        with source.open_source() as src:
            job = SyncJob(
                source=src,
                store=store,
                meta=MetadataStore(store),
                run=RunInfo(
                    run_id=context.run.run_id,
                    pipeline_name=context.run.job_name,
                    partition_key=context.partition_key,
                ),
                allow_mass_delete=config.allow_mass_delete,
                staging_root=bronze.staging_path,
                memory_budget_mb=settings.memory_budget_mb,
                diff_partitions=settings.diff_partitions,
                lease_seconds=settings.lease_seconds,
                lease_wait_seconds=settings.lease_wait_seconds,
                progress=lambda _t, stage, message: context.log.info(f"{stage}: {message}"),
                created_by=f"dagster run {context.run.run_id}",
                notifier=notifier,
            )
            skipped = skip_if_open(job, table, breaker_failures)
            if skipped:
                context.log.warning(f"{table.name} skipped: {skipped}")
                return
            try:
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

    return _sync


def failure_description(exc: BronzeSyncError, attempts: int) -> str:
    """Return the one line a failed sync reports: the error, and the attempts of a retried one."""
    text = " ".join(str(exc).split())
    plural = "" if attempts == 1 else "s"
    return f"{text} (gave up after {attempts} attempt{plural})" if exc.retryable else text


def materialization_metadata(result: SyncResult, uri: str) -> dict[str, object]:
    """Return the metadata shown with a bronze materialization."""
    figures: dict[str, object] = {k: v for k, v in result.metadata().items() if v is not None}
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
    for what, keys in result.samples.items():
        figures[f"sample_{what}"] = keys
    return figures


def build_bronze_assets(config: Config) -> list[dg.AssetsDefinition]:
    """Return one asset per enabled table."""
    return [build_bronze_asset(t, config) for t in config.enabled_tables()]
