"""SyncAuditLog as a hash chain: appends linked to the tip, verification and the one-time seal.

Each row carries ChainSeq (0, 1, 2, … in append order), PrevHash (the RowHash of the row
before it; 64 zeros for the first) and RowHash = SHA-256 of the row's canonical encoding
(`canonical`, which includes ChainSeq and PrevHash). Editing, removing, inserting or
reordering a row without recomputing every later hash breaks the chain at that row.

Concurrent writers: an append is committed as the version right after the one its tip was
read from (no commit retries), so two writers can never link to the same tip; the loser
reads the new tip and links again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

from bronze_sync.bronze.commit import read_commit_info
from bronze_sync.errors import MetadataError
from bronze_sync.metadata.schemas import SYNC_AUDIT_LOG
from bronze_sync.metadata.store import MetadataStore, Row

GENESIS = "0" * 64
TIP_KEY = "bronze_sync.audit_tip"  # commit metadata: "ChainSeq:RowHash" of the last row
CHAIN_COLUMNS = ("ChainSeq", "PrevHash", "RowHash")
APPEND_ATTEMPTS = 60
RECENT_COMMITS = 50  # commits whose recorded tip shows rows removed from the end


@dataclass(frozen=True)
class Tip:
    """The last row of the chain: its sequence number and hash (seq -1: empty chain)."""

    seq: int
    row_hash: str


EMPTY = Tip(-1, GENESIS)


def canonical(row: Row) -> bytes:
    """Return a row's canonical encoding: sorted-key compact JSON of its non-null values.

    Timestamps are UTC ISO 8601 with microseconds. Nulls are left out, so a column added to
    the table later does not change the encoding of older rows. RowHash is never included.
    """
    values = {k: _plain(v) for k, v in row.items() if v is not None and k != "RowHash"}
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def row_hash(row: Row) -> str:
    """Return the SHA-256 (hex) of a row's canonical encoding."""
    return hashlib.sha256(canonical(row)).hexdigest()


def link(rows: Sequence[Row], tip: Tip) -> list[dict[str, Any]]:
    """Return `rows` chained after `tip`: each with its ChainSeq, PrevHash and RowHash."""
    linked = []
    previous = tip
    for row in rows:
        out = {k: v for k, v in row.items() if k not in CHAIN_COLUMNS}
        out["ChainSeq"], out["PrevHash"] = previous.seq + 1, previous.row_hash
        out["RowHash"] = row_hash(out)
        linked.append(out)
        previous = Tip(out["ChainSeq"], out["RowHash"])
    return linked


def append_chained(meta: MetadataStore, rows: Sequence[Row]) -> None:
    """Append audit rows after the chain's tip in one commit, relinking if another won."""
    if not rows:
        return
    for attempt in range(1, APPEND_ATTEMPTS + 1):
        delta = meta.open_or_create(SYNC_AUDIT_LOG)
        linked = link(rows, read_tip(meta, delta))
        last = linked[-1]
        try:
            meta.write_at(delta, SYNC_AUDIT_LOG, linked, {TIP_KEY: tip_text(last)})
            return
        except CommitFailedError:
            # Another writer appended first: back off a little, then link to its tip.
            time.sleep(min(1.0, 0.02 * attempt) * random.uniform(0.5, 1.5))
    raise MetadataError(
        f"metadata/{SYNC_AUDIT_LOG}: other writers kept appending; {len(rows)} audit row(s) "
        f"not written after {APPEND_ATTEMPTS} attempts"
    )


def read_tip(meta: MetadataStore, delta: DeltaTable) -> Tip:
    """Return the chain's tip at the table's loaded version (its commit says, else a scan)."""
    version = delta.version()
    info = read_commit_info(meta.uri(SYNC_AUDIT_LOG), meta.store.options(), version)
    if info and isinstance(info.get(TIP_KEY), str):
        return parse_tip(info[TIP_KEY])
    # Not written by an append (OPTIMIZE, a schema change, an older release): scan.
    names = delta.schema().to_arrow().names
    if "ChainSeq" not in names:
        return EMPTY
    data = delta.to_pyarrow_dataset().to_table(columns=["ChainSeq", "RowHash"])
    return _last_of(data)


def _last_of(data: pa.Table) -> Tip:
    seqs = data.column("ChainSeq").to_pylist()
    best = max((i for i, s in enumerate(seqs) if s is not None), key=seqs.__getitem__, default=None)
    if best is None:
        return EMPTY
    return Tip(int(seqs[best]), str(data.column("RowHash")[best].as_py()))


def tip_text(row: Row) -> str:
    """Return the `TIP_KEY` commit metadata naming `row` (a linked row) as the chain's tip."""
    return f"{row['ChainSeq']}:{row['RowHash']}"


def parse_tip(text: str) -> Tip:
    """Return the tip a `TIP_KEY` commit metadata value names."""
    seq, _, digest = text.partition(":")
    return Tip(int(seq), digest)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # Arrow stores a naive time in a UTC column as UTC
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value
