"""A source whose rows leave it already protected: PII never reaches staging or bronze."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from bronze_sync.config.models import TableConfig
from bronze_sync.config.pii_key import policy_keys
from bronze_sync.errors import ConfigError, SourceError
from bronze_sync.metadata.store import MetadataStore
from bronze_sync.pii.policies import DROP, TOKENIZE, protect_column, protected_type
from bronze_sync.pii.vault import store_tokens
from bronze_sync.sources.base import ChangeFeed, ExtractPlan, Source

# Stores (column, token, clear value) entries in the vault, encrypted.
Vault = Callable[[list[tuple[str, str, str]]], None]
PII_POLICY = "PiiPolicy"  # PipelineConfig: JSON of the policies bronze's values are under
PII_POLICY_FIELD = "pii_policy"  # the same JSON in every sync commit's metadata


def policy_text(policies: Mapping[str, str]) -> str:
    """Return policies as the canonical JSON PipelineConfig and commit metadata record."""
    return json.dumps(dict(policies), sort_keys=True)


class ProtectedSource(Source):
    """Wrap a source for one table: read its columns in clear, hand them on protected.

    Dropped columns are never read; hashed and masked ones are transformed batch by batch,
    in memory, before the engine stages anything.
    """

    def __init__(
        self, inner: Source, table: TableConfig, key: bytes, vault: Vault | None = None
    ) -> None:
        self.inner, self.table, self.key, self.vault = inner, table, key, vault
        self.policies = dict(table.pii)
        self.kind = inner.kind
        self.modified_marks_every_change = inner.modified_marks_every_change
        self._clear: dict[str, pa.DataType] = {}

    @property
    def system_name(self) -> str:
        """Return the wrapped source's system name."""
        return self.inner.system_name

    def describe(self, table: TableConfig) -> pa.Schema:
        """Return the source schema as bronze stores it: dropped columns gone, others text."""
        schema = self.inner.describe(table)
        missing = sorted(set(self.policies) - set(schema.names))
        if missing:
            raise ConfigError(
                f"table {table.name}: pii column {missing[0]!r} is not a column of source "
                f"{table.source}"
            )
        self._clear = {f.name: f.type for f in schema}
        fields = [
            pa.field(f.name, protected_type(self.policies.get(f.name, ""), f.type))
            for f in schema
            if self.policies.get(f.name) != DROP
        ]
        return pa.schema(fields)

    # -- reads: ask in clear types, hand on protected ----------------------------------------
    def read_rows(
        self, table: TableConfig, schema: pa.Schema, since: dt.datetime | None
    ) -> Iterator[pa.RecordBatch]:
        """Yield protected rows."""
        return self._protect(self.inner.read_rows(table, self._clear_schema(schema), since), schema)

    def read_keys(self, table: TableConfig, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """Yield every key, protected when the key is."""
        keys = pa.schema([schema.field(k) for k in table.primary_key])
        clear = self._clear_schema(schema)
        return self._protect(self.inner.read_keys(table, clear), keys)

    def read_rows_by_keys(
        self, table: TableConfig, schema: pa.Schema, keys: pa.Table
    ) -> Iterator[pa.RecordBatch]:
        """Yield rows by key; impossible when the key is hashed (bronze cannot reverse it)."""
        if self._key_protected(table):
            raise SourceError("rows cannot be looked up by a hashed primary key", table=table.name)
        clear = self._clear_schema(schema)
        return self._protect(self.inner.read_rows_by_keys(table, clear, keys), schema)

    def read_columns(self, table: TableConfig, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """Yield some columns of every row, protected."""
        return self._protect(self.inner.read_columns(table, self._clear_schema(schema)), schema)

    def partition_values(self, table: TableConfig, above: Any = None) -> list[Any]:
        """Return the partition column's values (it cannot be protected)."""
        return self.inner.partition_values(table, above)

    def read_partitions(
        self, table: TableConfig, schema: pa.Schema, values: Sequence[Any]
    ) -> Iterator[pa.RecordBatch]:
        """Yield the partitions' rows, protected."""
        clear = self._clear_schema(schema)
        return self._protect(self.inner.read_partitions(table, clear, values), schema)

    def read_versions(
        self, table: TableConfig, schema: pa.Schema, since: dt.datetime
    ) -> Iterator[pa.RecordBatch]:
        """Yield scd2 versions, protected."""
        clear = self._clear_schema(schema)
        return self._protect(self.inner.read_versions(table, clear, since), schema)

    def fingerprint(self, table: TableConfig, schema: pa.Schema) -> str | None:
        """Return the source's content fingerprint (a digest: no value leaves the source)."""
        return self.inner.fingerprint(table, self._clear_schema(schema))

    def read_changes(self, plan: ExtractPlan) -> ChangeFeed | None:
        """Return the change feed with its rows and deleted keys protected."""
        clear = dataclasses.replace(plan, schema=self._clear_schema(plan.schema))
        feed = self.inner.read_changes(clear)
        if feed is None:
            return None
        keys = feed.deleted_keys
        if keys.num_rows and self._key_protected(plan.table):
            keys = self._protect_table(keys)
        return dataclasses.replace(
            feed, rows=self._protect(feed.rows, plan.schema), deleted_keys=keys
        )

    def change_state(self, table: TableConfig) -> Mapping[str, str] | None:
        """Return the wrapped source's change position."""
        return self.inner.change_state(table)

    # -- key checksums: only over clear keys, else every key is compared ---------------------
    def hashes_keys(self, table: TableConfig, schema: pa.Schema) -> bool:
        """Return False for a hashed key: the source's key hashes are of the clear values."""
        return not self._key_protected(table) and self.inner.hashes_keys(table, schema)

    def key_checksum(self, table: TableConfig, schema: pa.Schema) -> tuple[int, int] | None:
        """Return the source's key checksum (None for a hashed key)."""
        if self._key_protected(table):
            return None
        return self.inner.key_checksum(table, schema)

    def read_key_hashes(self, table: TableConfig, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """Yield key hashes (a clear key only)."""
        return self.inner.read_key_hashes(table, schema)

    def read_bucket_keys(
        self, table: TableConfig, schema: pa.Schema, bits: int, buckets: Sequence[int]
    ) -> Iterator[pa.RecordBatch]:
        """Yield the keys of the given hash buckets (a clear key only)."""
        return self.inner.read_bucket_keys(table, schema, bits, buckets)

    def columns_not_copied(self, table: TableConfig) -> dict[str, str]:
        """Return the wrapped source's uncopied columns plus the dropped PII columns."""
        dropped = {c: "pii: drop" for c, p in self.policies.items() if p == DROP}
        return {**self.inner.columns_not_copied(table), **dropped}

    def reference_tables(self, table: TableConfig) -> dict[str, pa.Table] | None:
        """Return the wrapped source's reference tables."""
        return self.inner.reference_tables(table)

    def count_rows(self, table: TableConfig) -> int | None:
        """Return the wrapped source's row count."""
        return self.inner.count_rows(table)

    def close(self) -> None:
        """Leave the wrapped source open: the run shares it with other tables."""

    # -- helpers -------------------------------------------------------------------------------
    def _key_protected(self, table: TableConfig) -> bool:
        return any(k in self.policies for k in table.primary_key)

    def _clear_schema(self, schema: pa.Schema) -> pa.Schema:
        """Return `schema` with protected columns in their source types (what to read)."""
        if not self._clear:
            self.describe(self.table)
        return pa.schema(
            [
                pa.field(f.name, self._clear.get(f.name, f.type)) if f.name in self.policies else f
                for f in schema
            ]
        )

    def _protect(
        self, batches: Iterator[pa.RecordBatch], schema: pa.Schema
    ) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            table = self._protect_table(pa.Table.from_batches([batch]))
            yield from table.cast(schema).to_batches()

    def _protect_table(self, rows: pa.Table) -> pa.Table:
        entries: dict[tuple[str, str], str] = {}
        for index, name in enumerate(rows.column_names):
            policy = self.policies.get(name)
            if policy and policy != DROP:
                protected, clear = protect_column(rows.column(index), policy, self.key)
                rows = rows.set_column(index, pa.field(name, pa.string()), protected)
                if policy == TOKENIZE:
                    tokens = protected.to_pylist()
                    entries |= {(name, t): v for t, v in zip(tokens, clear, strict=True) if t}
        if entries:
            # Into the vault before the batch moves on: a token in bronze is always revealable.
            if self.vault is None:
                raise ConfigError(f"table {self.table.name}: pii tokenize needs the PII vault")
            self.vault([(c, t, v) for (c, t), v in entries.items()])
        return rows


def protected(
    source: Source,
    table: TableConfig,
    env: Mapping[str, str],
    meta: MetadataStore | None = None,
) -> Source:
    """Return `source` wrapped for `table`'s pii policies (the source itself when none).

    With `meta`, tokenized values go to its vault, encrypted with BRONZE_PII_VAULT_KEY.
    """
    if not table.pii:
        return source
    key, vault_key = policy_keys(env, table.name, table.pii.values())
    vault: Vault | None = None
    if vault_key is not None and meta is not None:
        vault = functools.partial(_store, meta, table.name, vault_key)
    return ProtectedSource(source, table, key, vault)


def _store(
    meta: MetadataStore, table: str, vault_key: bytes, entries: list[tuple[str, str, str]]
) -> None:
    # On a thread of its own: an initial load's batches are pulled from inside deltalake's
    # async writer, where a nested Delta commit cannot start its own runtime.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(store_tokens, meta, table, entries, vault_key).result()


def check_policy_unchanged(table: TableConfig, stored: str | None) -> None:
    """Refuse a pii policy that differs from the one bronze's values were written under."""
    before: dict[str, str] = json.loads(stored) if stored else {}
    if before == table.pii:
        return
    changed = sorted(c for c in {*before, *table.pii} if before.get(c) != table.pii.get(c))
    what = ", ".join(
        f"{c}: {before.get(c, 'clear')} -> {table.pii.get(c, 'clear')}" for c in changed
    )
    raise ConfigError(
        f"table {table.name}: pii policy changed ({what}) but bronze holds values written "
        f"under the old one; revert the setting, or rewrite them in one commit with "
        f"`bronze-sync pii migrate --table {table.name}` (a dry run; then --execute)"
    )
