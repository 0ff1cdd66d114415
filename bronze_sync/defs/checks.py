"""Asset checks: the validation package's checks, attached to every bronze asset."""

from collections.abc import Iterator

import dagster as dg

from bronze_sync.clock import utc_now
from bronze_sync.config.models import Config, TableConfig
from bronze_sync.defs.assets import asset_key
from bronze_sync.defs.resources import BronzeStorageResource
from bronze_sync.metadata import MetadataStore
from bronze_sync.validation import CHECKS, CheckResult, CheckSeverity, evaluate_table
from bronze_sync.validation.runner import record_results

DESCRIPTIONS = {
    "counts_consistent": "total = active + deleted + purged",
    "primary_key_not_null": "no key column holds a null",
    "primary_key_unique": "every key appears in exactly one row",
    "tracking_flags_consistent": "never deleted and purged; flags agree with dates and "
    "SyncOperation",
    "purge_rule_respected": "no IsPurged row created on or after LastPurgeDate",
    "source_reconciled": "source row count = active rows (when the last sync scanned all keys)",
    "scd2_single_latest": "scd2 tables: every business key has exactly one latest version",
    "audit_complete": "every bronze version in the Delta log has SyncAuditLog rows",
    "history_complete": "every bronze version has exactly its changed rows in the row history",
    "checkpoint_recorded": "the last successful sync has a restorable checkpoint",
    "fabric_readable": "no Delta feature a Fabric SQL endpoint or Direct Lake cannot read "
    "(deletion vectors, column mapping, timestamp_ntz, v2 checkpoints)",
    "fresh": "last successful sync within freshness_hours",
    "delete_spike": "last sync's deletes within delete_spike_sigmas (3) sigma of their history",
    "unexpected_purge": "no purge flagged without a purge recorded since the previous sync",
}


def check_specs(table: TableConfig) -> list[dg.AssetCheckSpec]:
    """Return one spec per check of `table`; ERROR checks block downstream assets."""
    return [
        dg.AssetCheckSpec(
            name,
            asset=asset_key(table.name),
            description=f"{severity.value}: {DESCRIPTIONS[name]}",
            blocking=severity == CheckSeverity.ERROR,
        )
        for name, (severity, _check) in CHECKS.items()
    ]


def check_result(result: CheckResult) -> dg.AssetCheckResult:
    """Return the Dagster result of one check evaluation, figures as metadata."""
    metadata: dict[str, int | float | str] = {
        k: v if isinstance(v, int | float | str | bool) else str(v)
        for k, v in result.figures.items()
        if v is not None
    }
    metadata["message"] = result.message
    if result.skipped:
        metadata["skipped"] = True
    return dg.AssetCheckResult(
        asset_key=asset_key(result.table),
        check_name=result.check,
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR
        if result.severity == CheckSeverity.ERROR
        else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=result.message,
    )


def build_table_checks(table: TableConfig) -> dg.AssetChecksDefinition:
    """Return the multi-check of one bronze table (one step; subsettable from the UI)."""

    @dg.multi_asset_check(
        specs=check_specs(table),
        name=f"validate_{table.name}",
        can_subset=True,
        description=f"Validate bronze table {table.name} and record DataValidation rows.",
    )
    def _checks(
        context: dg.AssetCheckExecutionContext, bronze: BronzeStorageResource
    ) -> Iterator[dg.AssetCheckResult]:
        store = bronze.store()
        meta = MetadataStore(store)
        names = [key.name for key in context.selected_asset_check_keys]
        now = utc_now()
        results = evaluate_table(store, meta, table, now, names)
        record_results(meta, results, context.run.run_id, now)
        for result in results:
            yield check_result(result)

    return _checks


def build_asset_checks(config: Config) -> list[dg.AssetChecksDefinition]:
    """Return the checks of every enabled table."""
    return [build_table_checks(t) for t in config.enabled_tables()]
