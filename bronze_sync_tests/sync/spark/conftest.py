"""Real local Spark Connect servers for the spark engine's tests: Sail, and Spark without Delta."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SPARK_START_SECONDS = 180  # a cold JVM on two busy cores


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


@pytest.fixture(scope="session")
def spark_without_delta_remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start Apache Spark's own Connect server (pyspark's jars, no Delta Lake package)."""
    import pyspark

    home = Path(pyspark.__file__).parent
    port = _free_port()
    log = tmp_path_factory.mktemp("spark") / "connect-server.log"
    command = [
        str(home / "bin" / "spark-submit"),
        *("--master", "local[1]", "--driver-memory", "512m"),
        *("--class", "org.apache.spark.sql.connect.service.SparkConnectServer"),
        *("--conf", f"spark.connect.grpc.binding.port={port}"),
        *("--conf", "spark.connect.grpc.binding.address=127.0.0.1"),
        *("--conf", "spark.ui.enabled=false"),
        "spark-internal",
    ]
    env = {**os.environ, "SPARK_HOME": str(home)}
    with log.open("wb") as out:
        # Its own process group: the JVM is stopped with everything spark-submit started.
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_for_port(process, port, log)
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + SPARK_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Spark's Connect server exited ({process.returncode}):\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"Spark's Connect server did not listen on {port}:\n{log.read_text()[-3000:]}")
