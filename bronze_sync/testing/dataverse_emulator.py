"""Run the Dataverse emulator standalone: `python -m bronze_sync.testing.dataverse_emulator`."""

from __future__ import annotations

import argparse
import threading

from bronze_sync.testing.dataverse import (
    Attribute,
    DataverseEmulator,
    Entity,
    RequestRecord,
    load_demo,
)

__all__ = ["Attribute", "DataverseEmulator", "Entity", "RequestRecord", "load_demo", "main"]


def main(argv: list[str] | None = None) -> None:
    """Start the emulator, print how to connect, and serve until interrupted."""
    parser = argparse.ArgumentParser(description="A local HTTPS Dataverse emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument(
        "--demo", action="store_true", help="serve account, donation, activitypointer"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per page")
    args = parser.parse_args(argv)
    emulator = DataverseEmulator(host=args.host, port=args.port).start()
    emulator.latency = args.latency_ms / 1000
    if args.demo:
        load_demo(emulator)
    for key in ("environment_url", "authority_url", "ca_file", "client_id", "client_secret"):
        print(f"{key}: {emulator.connection()[key]}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
