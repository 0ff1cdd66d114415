"""A silver asset in another Dagster project, fed incrementally by bronze's change feed."""

import dagster as dg
import polars as pl
from deltalake import DeltaTable, write_deltalake

from bronze_sync.history import read_changes

BRONZE = dg.EnvVar("BRONZE_PATH")
SILVER = dg.EnvVar("SILVER_PATH")
KEY = "donationid"


@dg.asset(deps=[dg.AssetKey(["bronze", "donation"])])
def silver_donation(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Apply the bronze rows changed since the last run: latest image per key, deletes out."""
    last = context.instance.get_latest_materialization_event(context.asset_key)
    since = -1  # first run: every version from the table's first one
    if last is not None and last.asset_materialization is not None:
        since = int(last.asset_materialization.metadata["bronze_version"].value)
    feed = read_changes(BRONZE.get_value(), "donation", since_version=since)
    until = int(feed.schema.metadata[b"bronze_sync.until_version"])
    changed = pl.from_arrow(feed.read_all())
    if changed.height:
        latest = changed.sort("BronzeVersion").unique(KEY, keep="last")
        _apply(latest)
    return dg.MaterializeResult(
        metadata={"bronze_version": until, "changed_keys": changed[KEY].n_unique()}
    )


def _apply(latest: pl.DataFrame) -> None:
    """Upsert live rows and remove deleted ones (purged rows stay: they are real donations)."""
    gone = latest["IsDeleted"] | latest["RowRemoved"]
    live = latest.filter(~gone).drop(["Operation", "ChangedColumns", "RowRemoved"])
    silver = SILVER.get_value()
    if not DeltaTable.is_deltatable(silver):
        write_deltalake(silver, live.to_arrow())
        return
    table = DeltaTable(silver)
    if live.height:
        (
            table.merge(live.to_arrow(), f"t.{KEY} = s.{KEY}", source_alias="s", target_alias="t")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )
    removed = latest.filter(gone)[KEY].to_list()
    if removed:
        table.delete(_in(removed))


def _in(keys: list[str]) -> str:
    quoted = ", ".join("'" + k.replace("'", "''") + "'" for k in keys)
    return f"{KEY} IN ({quoted})"


defs = dg.Definitions(assets=[silver_donation])
