"""Prove that a sync has nothing to do without reading bronze, from its version's key state.

The key state (`diff.key_state`), saved by the sync that last wrote or read the version,
holds bronze's active key count and XOR and the count and checksum of its active rows inside
the next overlap window. When the source's key checksum equals the first pair and the rows
the overlap window re-reads equal the second, the full path would find every re-read row
unmodified and no key to add or flag: the sync is a no-op and reads no data file. Anything
else (a schema change, another writer's version, another path's settings, one differing
number) takes the full path, which reuses the rows already staged. A source that writes a
key back with an older modified value than bronze holds keeps the window counts apart (bronze's
row stays in the window, the source's does not), so that table takes the full path until a
newer change moves the window past it: slower, never wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
from deltalake import DeltaTable

from bronze_sync.bronze.reader import BronzeState
from bronze_sync.bronze.rewrite import RewriteResult
from bronze_sync.bronze.row_metadata import metadata_fields
from bronze_sync.bronze.schema import plan_schema
from bronze_sync.config.kinds import MERGED
from bronze_sync.config.models import TableConfig
from bronze_sync.diff.key_state import KeyState, micros, tally_extracted
from bronze_sync.diff.plan import SyncPlan
from bronze_sync.staging import StagingArea
from bronze_sync.sync.changes import saved_token
from bronze_sync.sync.extract import Extraction, extract_rows
from bronze_sync.sync.history_step import keep_history
from bronze_sync.sync.job import PhaseTimer, SyncJob
from bronze_sync.sync.key_check import CHECKSUM
from bronze_sync.sync.kinds import KindScope
from bronze_sync.sync.result import SyncResult

KEY_STATE = "KeyState"  # PipelineConfig: the key state of the table's last synced version
PROVEN = "key count, checksum and overlap window equal bronze's (no data file read)"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class NoopTry:
    """A no-op proof's outcome: the result when proven, else the rows it staged (if any)."""

    result: SyncResult | None = None
    rows: pa.Table | None = None
    since: dt.datetime | None = None


def saved_key_state(
    job: SyncJob,
    table: TableConfig,
    delta: DeltaTable,
    state_row: Mapping[str, object],
    scope: KindScope,
    full_reason: str | None,
) -> KeyState | None:
    """Return the saved key state when it describes this version and this sync may rely on it."""
    if full_reason is not None or not _eligible(job, table, state_row, scope):
        return None
    record = KeyState.from_json(state_row.get(KEY_STATE))
    if record is None or record.version != delta.version():
        return None
    same_settings = (
        record.table_id == str(delta.metadata().id)
        and record.key_columns == tuple(table.primary_key)
        and record.modified_column == table.modified_column
        and record.overlap_minutes == table.watermark_overlap_minutes
    )
    return record if same_settings else None


def try_noop(
    job: SyncJob,
    table: TableConfig,
    source_schema: pa.Schema,
    delta: DeltaTable,
    staging: StagingArea,
    timer: PhaseTimer,
    record: KeyState,
    dropped_before: list[str],
) -> NoopTry:
    """Return the no-op result when the source provably matches `record`, else what was staged."""
    bronze_schema = delta.to_pyarrow_dataset().schema
    schema_plan = plan_schema(
        source_schema,
        bronze_schema,
        table.name,
        dropped_before,
        metadata_fields(table.metadata_columns),
    )
    if schema_plan.widened or schema_plan.rewrites_table:
        return NoopTry()
    assert table.modified_column is not None  # saved_key_state checked it
    read_schema = schema_plan.read_schema(source_schema.names)
    since = since_time(record.since_us)
    rows = extract_rows(job, table, staging, read_schema, since, timer)
    count, checksum, timed = tally_extracted(rows, tuple(table.primary_key), table.modified_column)
    staged = NoopTry(rows=rows, since=since)
    if not timed or (count, checksum) != (record.tally.window, record.tally.window_xor):
        return staged
    job.progress(table.name, "keys", "comparing the key count and checksum with bronze's")
    with timer("keys"):
        found = job.source.key_checksum(table, read_schema)
    if found != (record.tally.active, record.tally.active_xor):
        return staged
    job.progress(table.name, "diff", f"nothing changed: {PROVEN}")
    result = SyncResult(
        table=table.name,
        mode="incremental",
        version=record.version,
        committed=False,
        extracted_rows=rows.num_rows,
        source_rows=record.tally.active,
        since=since,
        counts=dict(record.counts),
        columns_dropped=list(schema_plan.dropped),
        unmodified=rows.num_rows,
        unchanged=rows.num_rows,
        files_total=len(delta.file_uris()),
        key_path=CHECKSUM,
        key_path_reason=PROVEN,
        keys_compared=0,
    )
    with timer("history"):
        result.note_history(*keep_history(job, table, record.version, None))
    result.key_state = record
    return NoopTry(result=result)


def window_since(table: TableConfig, state: BronzeState, extraction: Extraction) -> int | None:
    """Return where the next sync's overlap window starts (UTC µs), for a merged table."""
    column = table.modified_column
    if table.kind != MERGED or column is None or state.modified_column != column:
        return None
    if not pa.types.is_timestamp(state.schema.field(column).type):
        return None
    # Extracted rows either land in bronze or are older than what it holds: the newest of
    # them and the watermark is the version's watermark.
    stamps, present = micros(extraction.rows.column(column))
    return _window_start(table, state, int(stamps[present].max()) if present.any() else None)


def _window_start(table: TableConfig, state: BronzeState, newest_us: int | None) -> int | None:
    """Return the overlap window's start (UTC µs) after `newest_us` meets the watermark."""
    newest = [utc_micros(state.watermark)] if state.watermark is not None else []
    newest += [newest_us] if newest_us is not None else []
    if not newest:
        return None
    return max(newest) - table.watermark_overlap_minutes * 60_000_000


def key_state_after(
    delta: DeltaTable,
    table: TableConfig,
    state: BronzeState,
    plan: SyncPlan,
    outcome: RewriteResult,
    counts: dict[str, int],
    since_us: int | None,
) -> KeyState | None:
    """Return the key state of the version this sync left, when its tally is exact."""
    tally = plan.key_tally
    if tally is None or since_us is None or table.modified_column is None:
        return None
    # Another writer's version in between, or edits the commit did not apply as planned.
    expected = state.version + 1 if outcome.committed else state.version
    if outcome.version != expected or tally.active != counts.get("active"):
        return None
    # The tally's newest row must give the window the extraction gave.
    if _window_start(table, state, tally.newest_us) != since_us:
        return None
    return KeyState(
        table_id=str(delta.metadata().id),
        version=outcome.version,
        key_columns=tuple(table.primary_key),
        modified_column=table.modified_column,
        overlap_minutes=table.watermark_overlap_minutes,
        since_us=since_us,
        tally=tally,
        counts=dict(counts),
    )


def since_time(micros: int) -> dt.datetime:
    """Return UTC microseconds since the epoch as an aware datetime."""
    return _EPOCH + dt.timedelta(microseconds=micros)


def utc_micros(moment: dt.datetime) -> int:
    """Return an instant (naive means UTC) as microseconds since the epoch."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def _eligible(
    job: SyncJob, table: TableConfig, state_row: Mapping[str, object], scope: KindScope
) -> bool:
    """Return whether a key state may stand for this sync's bronze read at all."""
    return (
        table.kind == MERGED
        and table.track_deletes
        and table.modified_column is not None
        and scope.values is None
        and not scope.full_read
        # Unmodified re-read rows are only skipped when the modified time marks every change.
        and job.source.modified_marks_every_change
        and not saved_token(state_row)
    )
