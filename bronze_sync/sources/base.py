"""The interface every source (SQL, Dataverse) implements for the sync engine."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pyarrow as pa

from bronze_sync.config.models import TableConfig
from bronze_sync.errors import SourceError


@dataclass(frozen=True)
class ChangeFeed:
    """Changes since a source-kept position (e.g. Dataverse change tracking)."""

    rows: Iterator[pa.RecordBatch]
    deleted_keys: pa.Table
    state: Mapping[str, str]
    retained_keys: pa.Table | None = None
    # True when `rows` hold every current source row (a fresh read): compare keys with them.
    full: bool = False


@dataclass(frozen=True)
class ExtractPlan:
    """What the engine asks of a source for one sync of one table."""

    table: TableConfig
    schema: pa.Schema
    since: dt.datetime | None
    state: Mapping[str, str] = field(default_factory=dict)


class Source(ABC):
    """A system bronze copies from; every method streams Arrow record batches."""

    kind: str = "source"
    # True when every change of a row sets a new `modified_column` value, so a re-read row
    # whose modified value bronze already holds can be skipped unread.
    modified_marks_every_change: bool = True

    @property
    def system_name(self) -> str:
        """Return the default `source_system` of rows read from this source."""
        return self.kind

    @abstractmethod
    def describe(self, table: TableConfig) -> pa.Schema:
        """Return the Arrow schema of the source table, from the source's catalog."""

    @abstractmethod
    def read_rows(
        self, table: TableConfig, schema: pa.Schema, since: dt.datetime | None
    ) -> Iterator[pa.RecordBatch]:
        """Yield rows (all, or those modified at or after `since`) in `schema`."""

    @abstractmethod
    def read_keys(self, table: TableConfig, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """Yield the primary-key columns of every current source row."""

    @abstractmethod
    def read_rows_by_keys(
        self, table: TableConfig, schema: pa.Schema, keys: pa.Table
    ) -> Iterator[pa.RecordBatch]:
        """Yield the current rows whose primary key is in `keys`."""

    def read_columns(self, table: TableConfig, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """Yield `schema`'s columns (the key and a few others) of every current source row."""
        return self.read_rows(table, schema, None)

    def partition_values(self, table: TableConfig, above: Any = None) -> list[Any]:
        """Return the distinct values of the partition column (above `above`), ascending."""
        raise self._no_kind(table)

    def read_partitions(
        self, table: TableConfig, schema: pa.Schema, values: Sequence[Any]
    ) -> Iterator[pa.RecordBatch]:
        """Yield the rows whose partition column holds one of `values`."""
        raise self._no_kind(table)

    def read_versions(
        self, table: TableConfig, schema: pa.Schema, since: dt.datetime
    ) -> Iterator[pa.RecordBatch]:
        """Yield the versions modified at or after `since` plus every latest one (scd2)."""
        raise self._no_kind(table)

    def fingerprint(self, table: TableConfig, schema: pa.Schema) -> str | None:
        """Return the table's content fingerprint computed by the source, or None if it cannot."""
        return None

    def _no_kind(self, table: TableConfig) -> SourceError:
        return SourceError(
            f"a {self.kind} source cannot sync tables of kind {table.kind}", table=table.name
        )

    def read_changes(self, plan: ExtractPlan) -> ChangeFeed | None:
        """Return changes since the saved position, or None to use extraction + key scan."""
        return None

    def change_state(self, table: TableConfig) -> Mapping[str, str] | None:
        """Return the change-tracking position reached by the last full read of `table`."""
        return None

    def hashes_keys(self, table: TableConfig, schema: pa.Schema) -> bool:
        """Return True when this source can compute `rows.pghash` key hashes server-side."""
        return False

    def key_checksum(self, table: TableConfig, schema: pa.Schema) -> tuple[int, int] | None:
        """Return the key count and the sum of every key hash modulo 2^64 (None: cannot).

        The hash is PostgreSQL's `hashtextextended` of the key (`rows.pghash`); a source that
        cannot compute it returns None and its syncs compare every key.
        """
        return None

    def read_key_hashes(self, table: TableConfig, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """Yield every row's key hash (`HASH_SCHEMA`)."""
        raise SourceError(f"a {self.kind} source cannot hash keys", table=table.name)

    def read_bucket_keys(
        self, table: TableConfig, schema: pa.Schema, bits: int, buckets: Sequence[int]
    ) -> Iterator[pa.RecordBatch]:
        """Yield the keys (and their hash, `HASH_COLUMN`) of the rows in the given buckets."""
        raise SourceError(f"a {self.kind} source cannot read keys by hash bucket", table=table.name)

    def columns_not_copied(self, table: TableConfig) -> dict[str, str]:
        """Return the source columns a sync never copies, with the reason (none by default)."""
        return {}

    def reference_tables(self, table: TableConfig) -> dict[str, pa.Table] | None:
        """Return reference rows published beside the table's data (None: the source has none)."""
        return None

    def count_rows(self, table: TableConfig) -> int | None:
        """Return the source's row count for `table`, or None when it cannot tell cheaply."""
        return None

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release connections."""

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
