"""Open a Spark Connect session and turn the cluster's failures into one clear line."""

from __future__ import annotations

import atexit
import contextlib
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bronze_sync.config.engine import SparkSettings
from bronze_sync.errors import BronzeSyncError, SparkEngineError, SparkUnavailableError

# Session settings every sync needs: UTC literals, and the SQL MERGE of Delta tables.
DEFAULT_PORT = 15002  # Spark Connect's
SESSION_SETTINGS = {"spark.sql.session.timeZone": "UTC"}
_UNREACHABLE = ("UNAVAILABLE", "failed to connect", "Connection refused", "DEADLINE_EXCEEDED")
# gRPC's auth statuses, or an HTTP 401/403 from a proxy in front of the cluster. Bare "401"
# would match a port or a stack trace's line number and misname any failure as a refusal.
_REFUSED = re.compile(
    r"UNAUTHENTICATED|PERMISSION_DENIED|invalid token|(?:status|HTTP)[: ]+40[13]\b", re.IGNORECASE
)
# What a Spark without the Delta Lake package says when asked for format("delta") or delta.`…`.
_NO_DELTA = ("DATA_SOURCE_NOT_FOUND", "UNSUPPORTED_DATASOURCE_FOR_DIRECT_QUERY")


@contextmanager
def spark_session(settings: SparkSettings, table: str) -> Iterator[Any]:
    """Yield a Spark Connect session to the table's cluster; stop it afterwards."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkEngineError(
            "engine spark needs pyspark-client (pip install 'bronze_sync[spark]')", table=table
        ) from None
    _probe(settings, table)
    with cluster_errors(settings, table, "connect"):
        session = SparkSession.builder.remote(settings.remote).create()
        try:
            _bounded_retries(session, settings)
            for key, value in {**SESSION_SETTINGS, **settings.options}.items():
                session.conf.set(key, value)
        except Exception:
            _close(session)
            raise
    try:
        yield session
    finally:
        _close(session)


def _close(session: Any) -> None:
    """Stop the session; a failure to say goodbye never fails a sync."""
    with contextlib.suppress(Exception):
        session.stop()
    # The client registers an exit hook that calls the cluster again unless it closed
    # cleanly; after a refused or lost connection that call would only log errors at exit.
    hook = getattr(getattr(session, "client", None), "_on_exit", None)
    if hook is not None:
        atexit.unregister(hook)


def _probe(settings: SparkSettings, table: str) -> None:
    """Fail at once when nothing listens at the endpoint (the client would retry for minutes)."""
    match = re.match(r"^sc://([^/:;]+)(?::(\d+))?", settings.remote)
    assert match is not None  # the configuration validated the address
    host, port = match.group(1), int(match.group(2) or DEFAULT_PORT)
    try:
        socket.create_connection((host, port), timeout=settings.connect_timeout_seconds).close()
    except OSError as exc:
        raise SparkUnavailableError(
            f"cannot reach Spark Connect endpoint {settings.endpoint}: {exc.strerror or exc}",
            table=table,
        ) from None


def _bounded_retries(session: Any, settings: SparkSettings) -> None:
    """Retry transient failures for about `connect_timeout_seconds`, not the client's 10 min."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    backoff_ms = max(50, int(settings.connect_timeout_seconds * 1000 / 8))
    policy = DefaultPolicy(max_retries=4, initial_backoff=50, max_backoff=backoff_ms)
    session.client.set_retry_policies([policy])


@contextmanager
def cluster_errors(settings: SparkSettings, table: str, action: str) -> Iterator[None]:
    """Re-raise what the cluster reports as a SparkEngineError naming the endpoint only."""
    try:
        yield
    except BronzeSyncError:
        raise  # our own verdicts (mass delete, bad keys, conflicts) pass through unchanged
    except Exception as exc:  # the client raises gRPC and Spark errors of many classes
        raise describe_failure(settings, table, action, exc) from None


def describe_failure(
    settings: SparkSettings, table: str, action: str, exc: BaseException
) -> SparkEngineError:
    """Return the one-line error of a failed cluster call (never the token)."""
    text = redact(str(exc), settings.remote)
    first = _headline(text) or type(exc).__name__
    where = f"Spark Connect endpoint {settings.endpoint}"
    if lacks_delta(text):
        return SparkEngineError(
            f"{where} has no Delta Lake support ({action}): {first}", table=table
        )
    if _REFUSED.search(text):
        return SparkEngineError(f"{where} refused the credentials ({action}): {first}", table=table)
    if any(mark in text for mark in _UNREACHABLE):
        return SparkUnavailableError(f"cannot reach {where} ({action}): {first}", table=table)
    return SparkEngineError(f"{where} failed to {action}: {first}", table=table)


def lacks_delta(text: str) -> bool:
    """Tell whether a cluster error says the cluster has no Delta Lake data source."""
    return any(mark in text for mark in _NO_DELTA) and "delta" in text.lower()


def redact(text: str, remote: str) -> str:
    """Remove the remote's parameters (token=...) from `text`."""
    _, _, params = remote.partition(";")
    for part in params.split(";"):
        _, _, value = part.partition("=")
        if value:
            text = text.replace(value, "***")
    return re.sub(r"(token=)[^;\s\"']+", r"\1***", text)


def _headline(text: str) -> str | None:
    """Return the status and details of a gRPC error, else the text's first line."""
    status = re.search(r"status = StatusCode\.(\w+)", text)
    details = re.search(r'details = "([^"]*)"', text)
    if status:
        return f"{status.group(1)}" + (f": {details.group(1)}" if details else "")
    return next((line.strip() for line in text.splitlines() if line.strip()), None)
