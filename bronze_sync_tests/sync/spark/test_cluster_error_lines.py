"""What a failed cluster call is called: refused, unreachable, no Delta, or failed."""

from __future__ import annotations

import pytest

from bronze_sync.config.engine import SparkSettings
from bronze_sync.errors import SparkUnavailableError
from bronze_sync.sync.spark.session import describe_failure

SETTINGS = SparkSettings(remote="sc://spark.internal:4013/;token=tok-4013-secret")
TRACE = "\n\tat org.apache.spark.sql.Dataset.ofRows(Dataset.scala:401)\n\tat x.y(Z.java:403)"


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("[DATA_SOURCE_NOT_FOUND] Failed to find the data source: delta." + TRACE, "no Delta"),
        ("[UNSUPPORTED_DATASOURCE_FOR_DIRECT_QUERY] ... type for direct query: delta", "no Delta"),
        ('status = StatusCode.UNAUTHENTICATED\n\tdetails = "invalid token"', "refused"),
        ("Received http2 header with status: 403", "refused"),
        ('status = StatusCode.UNAVAILABLE\n\tdetails = "failed to connect"', "cannot reach"),
        ("[TABLE_OR_VIEW_NOT_FOUND] The table `rows` cannot be found." + TRACE, "failed to"),
        ("[DATA_SOURCE_NOT_FOUND] Failed to find the data source: avro." + TRACE, "failed to"),
    ],
)
def test_a_failure_is_named_by_what_the_cluster_said_not_by_numbers_in_its_trace(text, verdict):
    error = describe_failure(SETTINGS, "account", "run the sync", RuntimeError(text))
    message = str(error)
    assert verdict in message.replace("has no Delta Lake support", "no Delta")
    assert "sc://spark.internal:4013" in message
    assert "tok-4013-secret" not in message and "\n" not in message
    assert isinstance(error, SparkUnavailableError) == (verdict == "cannot reach")
