"""Read and write the metadata Delta tables; every write survives concurrent writers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.errors import MetadataError
from bronze_sync.identifiers import quote_delta
from bronze_sync.metadata.schemas import SCHEMAS
from bronze_sync.retry import retry_commit

Row = Mapping[str, Any]


class MetadataStore:
    """The metadata tables under `{bronze.path}/metadata/`."""

    def __init__(self, store: BronzeStore) -> None:
        self.store = store

    def uri(self, name: str) -> str:
        """Return the URI of metadata table `name`."""
        return self.store.metadata_uri(name)

    def append(self, name: str, rows: Sequence[Row]) -> None:
        """Append rows in one commit, creating the table when needed."""
        if not rows:
            return
        data = self._table(name, rows)
        retry_commit(lambda: self._write(name, data, "append"), f"append to metadata/{name}")

    def open_or_create(self, name: str) -> DeltaTable:
        """Return the table at its latest version, created empty first when missing."""
        table = self.store.open(self.uri(name))
        if table is None:
            empty = SCHEMAS[name].empty_table()
            retry_commit(lambda: self._write(name, empty, "append"), f"create metadata/{name}")
            table = self.store.open(self.uri(name))
        if table is None:
            raise MetadataError(f"metadata/{name} could not be created")
        return table

    def write_at(
        self,
        delta: DeltaTable,
        name: str,
        rows: Sequence[Row],
        metadata: dict[str, str],
        mode: Literal["append", "overwrite"] = "append",
    ) -> None:
        """Commit rows as the version right after `delta`'s; CommitFailedError if taken."""
        write_deltalake(
            delta,
            self._table(name, rows),
            mode=mode,
            schema_mode="merge",
            commit_properties=CommitProperties(custom_metadata=metadata, max_commit_retries=0),
        )

    def upsert(
        self,
        name: str,
        rows: Sequence[Row],
        keys: Sequence[str],
        columns: Sequence[str] | None = None,
    ) -> None:
        """Insert rows, or replace the rows with the same `keys`, in one commit.

        With `columns`, a matched row gets only those columns: other writers' concurrent
        changes to its other columns survive.
        """
        if not rows:
            return
        data = self._table(name, rows)
        retry_commit(
            lambda: self._merge(name, data, keys, columns, insert=True),
            f"upsert into metadata/{name}",
        )

    def insert_new(self, name: str, rows: Sequence[Row], keys: Sequence[str]) -> None:
        """Insert only the rows whose `keys` the table does not hold yet, in one commit.

        Of concurrent writers inserting the same key, exactly one row lands: MERGEs that
        both insert conflict, and the retried one then finds the key.
        """
        if not rows:
            return
        data = self._table(name, rows)
        if self.store.open(self.uri(name)) is None:
            # Created empty first: two first writers' appends would both land.
            empty = data.schema.empty_table()
            retry_commit(lambda: self._write(name, empty, "append"), f"create metadata/{name}")
        retry_commit(
            lambda: self._merge(name, data, keys, (), insert=True),
            f"insert into metadata/{name}",
        )

    def update(
        self, name: str, rows: Sequence[Row], keys: Sequence[str], columns: Sequence[str]
    ) -> None:
        """Set only `columns` of the existing rows matched by `keys`, in one commit."""
        if not rows:
            return
        data = self._table(name, rows).select([*keys, *columns])
        retry_commit(
            lambda: self._merge(name, data, keys, columns, insert=False),
            f"update metadata/{name}",
        )

    def read(self, name: str, columns: Sequence[str] | None = None) -> pa.Table:
        """Return the whole table (empty, with its schema, when it does not exist yet)."""
        schema = SCHEMAS[name]
        table = self.store.open(self.uri(name))
        if table is None:
            empty = schema.empty_table()
            return empty.select(list(columns)) if columns else empty
        data = table.to_pyarrow_dataset().to_table(columns=list(columns) if columns else None)
        return _conform(data, schema, columns)

    def rows(self, name: str) -> list[dict[str, Any]]:
        """Return the whole table as a list of dicts."""
        return self.read(name).to_pylist()

    def version(self, name: str) -> int | None:
        """Return the table's current Delta version, or None when it does not exist."""
        table = self.store.open(self.uri(name))
        return None if table is None else table.version()

    def _table(self, name: str, rows: Sequence[Row]) -> pa.Table:
        schema = SCHEMAS[name]
        unknown = {k for row in rows for k in row} - set(schema.names)
        if unknown:
            raise MetadataError(f"metadata/{name} has no column(s) {', '.join(sorted(unknown))}")
        try:
            return pa.Table.from_pylist([dict(r) for r in rows], schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise MetadataError(f"metadata/{name}: bad row values: {exc}") from None

    def _write(self, name: str, data: pa.Table, mode: Literal["append", "error", "ignore"]) -> None:
        self.store.ensure_root()
        write_deltalake(
            self.uri(name),
            data,
            mode=mode,
            schema_mode="merge",
            storage_options=self.store.options(),
        )

    def _merge(
        self,
        name: str,
        data: pa.Table,
        keys: Sequence[str],
        columns: Sequence[str] | None,
        insert: bool,
    ) -> None:
        table = self.store.open(self.uri(name))
        if table is None:
            if insert:
                self._write(name, data, "append")
            return
        predicate = " AND ".join(f"t.{quote_delta(k)} = s.{quote_delta(k)}" for k in keys)
        merger = table.merge(data, predicate, source_alias="s", target_alias="t", merge_schema=True)
        if columns is None:
            merger = merger.when_matched_update_all()
        elif columns:  # no columns: a matched row is left as it is
            merger = merger.when_matched_update(
                {quote_delta(c): f"s.{quote_delta(c)}" for c in columns}
            )
        if insert:
            merger = merger.when_not_matched_insert_all()
        merger.execute()


def _conform(data: pa.Table, schema: pa.Schema, columns: Sequence[str] | None) -> pa.Table:
    """Return `data` with every schema column (older tables may lack newer columns)."""
    wanted = list(columns) if columns else schema.names
    data = data.combine_chunks()  # one cast per column, not one per file
    arrays = []
    for name in wanted:
        field = schema.field(name)
        if name in data.column_names:
            arrays.append(data.column(name).cast(field.type))
        else:
            arrays.append(pa.nulls(data.num_rows, field.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema([schema.field(n) for n in wanted]))
