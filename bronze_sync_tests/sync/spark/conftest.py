"""A real local Spark Connect server (Sail) for the spark engine's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def sail_remote() -> Iterator[str]:
    """Start Sail's Spark Connect server in this process; fail (never skip) if it cannot."""
    from pysail.spark import SparkConnectServer

    server = SparkConnectServer(ip="127.0.0.1", port=0)
    server.start(background=True)
    host, port = server.listening_address
    if not port:
        pytest.fail("the local Sail Spark Connect server did not start")
    yield f"sc://{host}:{port}"
    server.stop()
