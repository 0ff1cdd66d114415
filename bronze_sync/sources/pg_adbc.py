"""Columnar PostgreSQL reads through ADBC (COPY binary), about 4x the row-by-row fetch."""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bronze_sync.errors import SourceDataError, SourceError, SourceUnavailableError
from bronze_sync.redact import Redactor

_DIALECT = postgresql.psycopg.dialect(paramstyle="numeric_dollar")


def adbc_available() -> bool:
    """Return True when the ADBC PostgreSQL driver is installed."""
    return importlib.util.find_spec("adbc_driver_postgresql") is not None


def libpq_uri(url: sa.URL) -> str:
    """Return the libpq connection URI for a SQLAlchemy PostgreSQL URL."""
    query = {k: v for k, v in url.query.items() if k not in {"client_encoding"}}
    return url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)


def stream_select(
    url: sa.URL, stmt: sa.Select[Any], schema: pa.Schema, batch_size: int, redactor: Redactor
) -> Iterator[pa.RecordBatch]:
    """Run `stmt` on PostgreSQL and yield batches of at most `batch_size` rows in `schema`."""
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as adbc

    sql, params = compile_for_copy(stmt)
    try:
        with adbc.connect(libpq_uri(url)) as conn, conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            cur.execute(sql, parameters=params or None)
            reader = cur.fetch_record_batch()
            pending: list[pa.RecordBatch] = []
            pending_rows = 0
            for batch in reader:
                batch = conform(batch, schema)
                pending.append(batch)
                pending_rows += batch.num_rows
                while pending_rows >= batch_size:
                    table = pa.Table.from_batches(pending, schema=schema)
                    yield from table.slice(0, batch_size).combine_chunks().to_batches()
                    rest = table.slice(batch_size)
                    pending, pending_rows = rest.to_batches(), rest.num_rows
            if pending_rows:
                yield from (
                    pa.Table.from_batches(pending, schema=schema).combine_chunks().to_batches()
                )
    except adbc_driver_manager.OperationalError as exc:
        where = f"{url.host}:{url.port}" if url.port else url.host
        detail = " ".join(redactor(str(exc)).split())
        raise SourceUnavailableError(
            f"cannot reach the postgresql source at {where}: {detail}"
        ) from None
    except adbc_driver_manager.Error as exc:
        raise SourceError(f"PostgreSQL query failed: {redactor(str(exc))}") from None


def compile_for_copy(stmt: sa.Select[Any]) -> tuple[str, list[Any]]:
    """Return SQL and parameters, rendering timestamps and integers inline when possible."""
    # render_postcompile: an IN list becomes one parameter per value.
    compiled = stmt.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    params = [compiled.params[name] for name in (compiled.positiontup or [])]
    # ADBC runs a statement with parameters as a prepared query whose whole result libpq
    # holds in memory; without parameters it streams through COPY. Only values whose
    # rendering cannot carry SQL (timestamps, dates, integers) are inlined.
    if all(_inlinable(v) for v in params):
        return str(stmt.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True})), []
    return str(compiled), params


def _inlinable(value: Any) -> bool:
    return isinstance(value, dt.date | int) and not isinstance(value, bool)


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Cast an ADBC batch to `schema` (NUMERIC text to exact decimals, naive times to UTC)."""
    arrays = []
    for i, field in enumerate(schema):
        array = batch.column(i)
        if isinstance(array.type, pa.ExtensionType) or isinstance(array, pa.ExtensionArray):
            array = array.storage
        if array.type != field.type:
            try:
                array = pc.cast(array, field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SourceDataError(
                    f"column {field.name!r}: cannot store {array.type} values as {field.type}: "
                    f"{exc}"
                ) from None
        arrays.append(array)
    return pa.record_batch(arrays, schema=schema)
