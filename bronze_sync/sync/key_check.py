"""Choose a sync's delete detection: key checksums where they can prove it, else every key.

The checksum path (`diff.key_buckets`) compares the source's key count and hash XOR with
bronze's active keys plus the keys this sync's extraction brings; when they differ, it
compares per-bucket sums and fetches only the keys of buckets that differ. It never stands
alone for long: the first sync after the initial load, any sync `full_key_scan_every_days`
after the last full scan, a source that cannot hash keys, too many differing buckets, or a
source hash that disagrees with bronze's all take the full key scan, and the asset
metadata says which path ran and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from bronze_sync.config.kinds import MERGED
from bronze_sync.config.models import TableConfig
from bronze_sync.diff.key_buckets import BucketSums, KeyBuckets, bucket_bits, total_checksum
from bronze_sync.rows.keys import check_keys
from bronze_sync.rows.pghash import HASH_COLUMN, hash_keys
from bronze_sync.staging import StagingArea
from bronze_sync.sync.job import PhaseTimer, SyncJob

FULL = "full_key_scan"
CHECKSUM = "checksum"
LAST_FULL_KEY_SCAN = "LastFullKeyScan"  # PipelineConfig: when every key was last compared
# Above this share of differing buckets, fetching every key costs about the same.
MAX_DIFFERING_SHARE = 0.5
EQUAL = "key count and checksum equal"


@dataclass(frozen=True)
class KeyScan:
    """The source keys a sync compares with bronze, and why they are these."""

    keys: pa.Table  # every source key, or only those of `scanned`'s buckets
    source_rows: int  # the source's key count at the scan
    path: str  # FULL or CHECKSUM
    reason: str
    scanned: KeyBuckets | None = None  # CHECKSUM: the buckets whose keys `keys` hold


# Given the extracted rows, return the checksum path's key scan, or why it cannot prove it.
ChecksumScan = Callable[[pa.Table], KeyScan | str]


def full_scan_reason(
    job: SyncJob,
    table: TableConfig,
    schema: pa.Schema,
    state_row: Mapping[str, object],
    kind_scoped: bool,
) -> str | None:
    """Return why this sync must compare every key, or None when checksums may prove it."""
    every = table.full_key_scan_every_days
    if table.kind != MERGED or kind_scoped:
        return f"tables of kind {table.kind} compare every key they read"
    if every == 0:
        return "full_key_scan_every_days is 0"
    last = state_row.get(LAST_FULL_KEY_SCAN)
    if not isinstance(last, dt.datetime):
        return "no full key scan recorded yet"
    age = job.clock() - last
    if age >= dt.timedelta(days=every):
        return f"the last full key scan was {age.days} days ago (full_key_scan_every_days: {every})"
    if not job.source.hashes_keys(table, schema):
        return (
            "the source cannot hash keys as bronze does (PostgreSQL 14+, UTF-8, text or "
            "integer key columns)"
        )
    return None


def checksum_scan(
    job: SyncJob,
    table: TableConfig,
    schema: pa.Schema,
    staging: StagingArea,
    active_hashes: Callable[[], np.ndarray],
    timer: PhaseTimer,
) -> ChecksumScan:
    """Return the checksum path of one sync, run once the changed rows are staged."""

    def scan(extracted: pa.Table) -> KeyScan | str:
        with timer("keys"):
            return _checksum_scan(job, table, schema, staging, active_hashes(), extracted)

    return scan


def _checksum_scan(
    job: SyncJob,
    table: TableConfig,
    schema: pa.Schema,
    staging: StagingArea,
    active: np.ndarray,
    extracted: pa.Table,
) -> KeyScan | str:
    # What the source should hold: bronze's active keys plus the extracted keys they lack.
    expected = np.concatenate(
        [active, _not_active(hash_keys(extracted, table.primary_key), active)]
    )
    bits = bucket_bits(len(expected))
    job.progress(table.name, "keys", "comparing the key count and checksum with the source's")
    found = job.source.key_checksum(table, schema)
    if found is None:
        return "the source cannot hash keys as bronze does"
    if found == total_checksum(expected):
        none = KeyBuckets(bits, np.empty(0, dtype=np.int64))
        return KeyScan(_no_keys(table, schema), found[0], CHECKSUM, EQUAL, none)
    job.progress(table.name, "keys", f"comparing key checksums in {1 << bits:,} hash buckets")
    source = BucketSums.empty(bits)
    for batch in job.source.read_key_hashes(table, schema):
        source.add(batch.column(0).to_numpy())
    differing = source.differing(BucketSums.of_hashes(expected, bits))
    buckets = KeyBuckets(bits, differing)
    why = f"{len(differing):,} of {1 << bits:,} key buckets differ"
    if buckets.share > MAX_DIFFERING_SHARE:
        return why
    keys = _bucket_keys(job, table, schema, staging, buckets)
    if keys is None:
        return "the source's key hashes differ from bronze's"
    unscanned = source.total - int(source.keys[differing].sum())
    return KeyScan(keys, unscanned + keys.num_rows, CHECKSUM, why, buckets)


def _no_keys(table: TableConfig, schema: pa.Schema) -> pa.Table:
    return pa.schema([schema.field(k) for k in table.primary_key]).empty_table()


def _not_active(hashes: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Return the extracted key hashes no active bronze key has (new or deleted keys)."""
    if not len(hashes):
        return hashes
    # Hash the small side: mark the active hashes that some extracted key has.
    seen = pl.Series(active).is_in(pl.Series(np.unique(hashes)).implode()).to_numpy()
    return hashes[~np.isin(hashes, active[seen])]


def _bucket_keys(
    job: SyncJob, table: TableConfig, schema: pa.Schema, staging: StagingArea, buckets: KeyBuckets
) -> pa.Table | None:
    """Stage the source keys of the differing buckets; None when their hashes are not ours."""
    key_schema = pa.schema([schema.field(k) for k in table.primary_key])
    if not len(buckets.buckets):
        return key_schema.empty_table()
    with_hash = key_schema.append(pa.field(HASH_COLUMN, pa.int64()))
    batches = job.source.read_bucket_keys(table, schema, buckets.bits, buckets.buckets.tolist())
    rows = staging.stage("bucket_keys", batches, with_hash)
    check_keys(rows, table.primary_key, table.name, "source key scan")
    # Every fetched key proves the two hash implementations agree (a collation, an encoding
    # or a text rendering that differs would otherwise hide deletes in "equal" buckets).
    ours = hash_keys(rows, table.primary_key)
    if not np.array_equal(ours, rows.column(HASH_COLUMN).to_numpy()):
        return None
    return rows.select(table.primary_key)
