"""Table leases: at most one bronze_sync writer per bronze table, on any storage delta-rs writes.

A lease is a small Delta table of its own, `{root}/_bronze_sync/leases/{table}`, whose latest
commit names the holder. Taking, renewing and releasing it are commits pinned to the version
just read (`max_commit_retries=0`): the log's put-if-absent is the compare-and-swap, so the
lease is exactly as safe as a Delta commit on that storage (local disk, Azure, S3 with
conditional writes) and needs no other service. A holder renews it while it works; a crashed
holder's lease expires, and on the same host it is taken over as soon as its process is gone.
The lease keeps writers apart; the bronze commit itself is still pinned to the version its plan
read, so even a writer that lost its lease unnoticed cannot land a commit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.errors import BronzeError, LeaseHeldError, LeaseLostError
from bronze_sync.faults import fault_point
from bronze_sync.processes import ProcessId

log = logging.getLogger(__name__)

HELD, RELEASED = "held", "released"
RECORD_KEY = "bronze_sync.lease"
# The lease table's own log: checkpoint often and forget old heartbeats after a day.
LEASE_TABLE_PROPERTIES = {
    "delta.logRetentionDuration": "interval 1 days",
    "delta.checkpointInterval": "50",
}
POLL_SECONDS = (0.2, 2.0)  # first and longest wait between looks at a held lease


def _utc_now() -> dt.datetime:
    # Leases expire in real time, whatever clock the sync itself is given (tests fake it).
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class LeaseRecord:
    """One lease commit: who holds (or last held) the table, and until when."""

    state: str
    token: str
    run_id: str
    purpose: str
    process: ProcessId | None
    acquired_at: dt.datetime
    expires_at: dt.datetime
    table_version: int | None = None  # the bronze version when the lease was taken

    def to_json(self) -> str:
        """Return the record as the JSON kept in the commit's metadata."""
        return json.dumps(
            {
                "state": self.state,
                "token": self.token,
                "run_id": self.run_id,
                "purpose": self.purpose,
                "process": self.process.as_dict() if self.process else None,
                "acquired_at": self.acquired_at.isoformat(),
                "expires_at": self.expires_at.isoformat(),
                "table_version": self.table_version,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> LeaseRecord:
        """Return the record a commit's metadata holds."""
        data: dict[str, Any] = json.loads(text)
        return cls(
            state=data["state"],
            token=data["token"],
            run_id=data["run_id"],
            purpose=data.get("purpose", "sync"),
            process=ProcessId.from_dict(data["process"]) if data.get("process") else None,
            acquired_at=dt.datetime.fromisoformat(data["acquired_at"]),
            expires_at=dt.datetime.fromisoformat(data["expires_at"]),
            table_version=data.get("table_version"),
        )

    def expired(self, now: dt.datetime) -> bool:
        """Return True once the holder stopped renewing for longer than its lease."""
        return now >= self.expires_at

    def free(self, now: dt.datetime) -> bool:
        """Return True when another writer may take the lease."""
        if self.state != HELD or self.expired(now):
            return True
        return self.process is not None and self.process.is_dead()

    def describe(self) -> str:
        """Return who holds the lease, for messages."""
        who = self.process.describe() if self.process else "an unknown process"
        return (
            f"run {self.run_id} ({self.purpose}; {who}; since "
            f"{self.acquired_at:%Y-%m-%d %H:%M:%S} UTC; lease valid until "
            f"{self.expires_at:%H:%M:%S} UTC)"
        )


@dataclass(frozen=True)
class LeaseRequest:
    """Who asks for a table's lease, for what, and how long they hold and wait."""

    run_id: str
    purpose: str = "sync"
    seconds: float = 120.0
    wait_seconds: float = 600.0
    table_version: int | None = None
    on_wait: Callable[[str], None] | None = None


class LeaseLog:
    """The lease table of one bronze table: read the latest record, commit the next one."""

    def __init__(self, store: BronzeStore, table: str) -> None:
        self.store = store
        self.table = table
        self.uri = store.control_uri(f"leases/{table}")
        self._delta: DeltaTable | None = None

    def latest(self) -> LeaseRecord | None:
        """Return the newest lease record (None: never held), reading the log afresh."""
        delta = self._open()
        delta.update_incremental()
        info = delta.history(1)
        text = info[0].get(RECORD_KEY) if info else None
        return LeaseRecord.from_json(text) if text else None

    def commit(self, record: LeaseRecord) -> bool:
        """Commit `record` right after the version `latest` read; False if another came first."""
        delta = self._open()
        try:
            delta.create_write_transaction(
                [],
                mode="append",
                schema=delta.schema(),
                commit_properties=CommitProperties(
                    custom_metadata={RECORD_KEY: record.to_json()}, max_commit_retries=0
                ),
            )
        except CommitFailedError:
            return False
        return True

    def _open(self) -> DeltaTable:
        if self._delta is None:
            self._delta = self.store.open(self.uri) or self._create()
        return self._delta

    def _create(self) -> DeltaTable:
        self.store.ensure_root()
        try:
            write_deltalake(
                self.uri,
                pa.table({"note": pa.array([], pa.string())}),
                mode="error",
                configuration=LEASE_TABLE_PROPERTIES,
                storage_options=self.store.options(),
            )
        except (CommitFailedError, DeltaError) as exc:
            if not isinstance(exc, CommitFailedError) and "already exists" not in str(exc):
                raise BronzeError(
                    f"cannot create lease table {self.uri}: {exc}", table=self.table
                ) from None
        table = self.store.open(self.uri)
        if table is None:
            raise BronzeError(f"lease table {self.uri} cannot be opened", table=self.table)
        return table


class TableLease:
    """A held lease: renewed in the background, checked before every bronze commit."""

    def __init__(
        self, log_: LeaseLog, record: LeaseRecord, seconds: float, previous: LeaseRecord | None
    ) -> None:
        self.log = log_
        self.record = record
        self.seconds = seconds
        # The crashed or expired holder this lease was taken from (its leftovers need cleaning).
        self.previous = previous
        self._lock = threading.Lock()
        self._lost: LeaseRecord | None = None
        self._stop = threading.Event()
        self._beat = threading.Thread(
            target=self._heartbeat, name=f"lease-{log_.table}", daemon=True
        )
        self._beat.start()

    @property
    def table(self) -> str:
        """Return the bronze table name."""
        return self.log.table

    @property
    def token(self) -> str:
        """Return this holding's token (it names the data files this writer adds)."""
        return self.record.token

    def ensure(self) -> None:
        """Raise LeaseLostError unless this writer still holds the lease for half a term more."""
        with self._lock:
            if self._lost is None:
                left = (self.record.expires_at - _utc_now()).total_seconds()
                if left < self.seconds / 2:
                    self._renew()
            if self._lost is not None:
                raise LeaseLostError(
                    f"this writer's lease was taken over by {self._lost.describe()} while it "
                    "was paused or cut off; nothing was committed",
                    table=self.table,
                )

    def before_commit(self) -> None:
        """Check the lease right before a bronze commit (and hit the test crash point)."""
        self.ensure()
        fault_point("before_commit")

    def release(self) -> None:
        """Stop renewing and mark the lease released (unless another writer took it)."""
        self._stop.set()
        self._beat.join(timeout=self.seconds)
        with self._lock:
            if self._lost is not None:
                return
            try:
                latest = self.log.latest()
                if latest is not None and latest.token == self.token:
                    self.log.commit(replace(self.record, state=RELEASED, expires_at=_utc_now()))
            except (DeltaError, OSError) as exc:  # it expires by itself
                log.warning("%s: could not release the lease: %s", self.table, exc)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.seconds / 4):
            with self._lock:
                if self._lost is not None:
                    return
                try:
                    self._renew()
                except (DeltaError, OSError, BronzeError) as exc:
                    # A missed beat is not fatal; ensure() before the commit decides.
                    log.warning("%s: lease renewal failed: %s", self.table, exc)

    def _renew(self) -> None:
        """Extend the lease (compare-and-swap on the lease log); note a takeover."""
        for _ in range(3):
            latest = self.log.latest()
            if latest is None or latest.token != self.token:
                self._lost = latest
                return
            renewed = replace(self.record, expires_at=_utc_now() + _span(self.seconds))
            if self.log.commit(renewed):
                self.record = renewed
                return
        raise BronzeError("the lease log kept changing while renewing", table=self.table)


def acquire_lease(store: BronzeStore, table: str, request: LeaseRequest) -> TableLease:
    """Take the table's lease, waiting for a live holder; raise LeaseHeldError after the wait."""
    lease_log = LeaseLog(store, table)
    deadline = time.monotonic() + request.wait_seconds
    delay, told = POLL_SECONDS[0], False
    while True:
        current = lease_log.latest()
        now = _utc_now()
        if current is None or current.free(now):
            mine = LeaseRecord(
                state=HELD,
                token=uuid.uuid4().hex[:16],
                run_id=request.run_id,
                purpose=request.purpose,
                process=ProcessId.current(),
                acquired_at=now,
                expires_at=now + _span(request.seconds),
                table_version=request.table_version,
            )
            if lease_log.commit(mine):
                previous = current if current is not None and current.state == HELD else None
                if previous is not None:
                    log.warning("%s: took over the lease of %s", table, previous.describe())
                return TableLease(lease_log, mine, request.seconds, previous)
            continue  # another writer committed first: look again
        if time.monotonic() >= deadline:
            raise LeaseHeldError(
                f"another writer holds this table: {current.describe()}; waited "
                f"{request.wait_seconds:g} s. If that process is gone, its lease expires at "
                f"{current.expires_at:%H:%M:%S} UTC; retry after that",
                table=table,
            )
        if not told and request.on_wait is not None:
            request.on_wait(f"waiting for {current.describe()}")
            told = True
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(POLL_SECONDS[1], delay * 2)


def read_lease(store: BronzeStore, table: str) -> LeaseRecord | None:
    """Return the table's newest lease record without taking it (None: never leased)."""
    if not store.exists(store.control_uri(f"leases/{table}")):
        return None
    return LeaseLog(store, table).latest()


def _span(seconds: float) -> dt.timedelta:
    return dt.timedelta(seconds=seconds)


@contextlib.contextmanager
def hold_lease(store: BronzeStore, table: str, request: LeaseRequest) -> Iterator[TableLease]:
    """Hold the table's lease for the enclosed block; release it in every outcome."""
    lease = acquire_lease(store, table, request)
    try:
        yield lease
    finally:
        lease.release()
