"""A project folder the UI journeys drive: a SQLite source, two CLI syncs, `bronze-sync ui`."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
import yaml

from bronze_sync.config import load_config
from bronze_sync.defs.location import build_definitions
from bronze_sync.defs.partitions import SYNC_BATCHES
from bronze_sync.demo.seeds import build_source
from bronze_sync.demo.tables import DEMO_TABLES

BRONZE_SYNC = str(Path(sys.executable).parent / "bronze-sync")
TABLES = {"account": "accountid", "donation": "donationid", "activitypointer": "activityid"}
# Hang guards only: on a loaded 2-core machine `dagster dev` takes ~30 s to answer.
START_SECONDS = 240
COMMAND_SECONDS = 300
STOP_SECONDS = 15


@dataclass
class Project:
    """A bronze_sync project folder: config, SQLite source, bronze and its Dagster home."""

    folder: Path
    today: dt.date
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""

    @property
    def config_file(self) -> Path:
        """Return the project's configuration file."""
        return self.folder / "bronze_sync.yaml"

    @property
    def home(self) -> Path:
        """Return the Dagster home the CLI and the UI share (`.dagster/`, the CLI's default)."""
        return self.folder / ".dagster"

    def batch(self, days_ago: int) -> str:
        """Return the sync batch key `days_ago` days before today."""
        return (self.today - dt.timedelta(days=days_ago)).isoformat()

    def definitions(self) -> dg.Definitions:
        """Return the definitions the code location builds from the project's config."""
        return build_definitions(load_config(self.config_file))

    def instance(self) -> dg.DagsterInstance:
        """Return the project's Dagster instance (the one the UI shows)."""
        return dg.DagsterInstance.from_config(str(self.home))

    def run_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one `bronze-sync` command in the project folder; raise with its output if it fails."""
        done = subprocess.run(
            [BRONZE_SYNC, *args, "--config", str(self.config_file)],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.folder,
            timeout=COMMAND_SECONDS,
        )
        if done.returncode != 0:
            raise AssertionError(f"bronze-sync {' '.join(args)}: {done.stdout}\n{done.stderr}")
        return done


def project_env(folder: Path) -> dict[str, str]:
    """Return the environment of the project's commands: no inherited config or Dagster home."""
    env = {k: v for k, v in os.environ.items() if k not in ("BRONZE_SYNC_CONFIG", "DAGSTER_HOME")}
    env["PYTHONUNBUFFERED"] = "1"
    # The rollback approval secret is generated on first use: keep it out of the real home.
    env["XDG_CONFIG_HOME"] = str(folder / "xdg_config")
    return env


def write_config(project: Project) -> None:
    """Write a config syncing the demo's account, donation and activitypointer tables."""
    raw = {
        "source": {"kind": "sql", "url": f"sqlite:///{project.folder / 'source.sqlite'}"},
        "bronze": {"path": str(project.folder / "bronze")},
        "defaults": {
            "created_column": "createdon",
            "modified_column": "modifiedon",
            "max_delete_fraction": 0.1,
        },
        "sync": {"max_parallel_tables": 3, "staging_path": str(project.folder / "staging")},
        "tables": [{"name": n, "source": n, "primary_key": k} for n, k in TABLES.items()],
    }
    project.config_file.write_text(yaml.safe_dump(raw, sort_keys=False))


def change_source(engine: sa.Engine, now: dt.datetime) -> None:
    """Delete 15 recent donations and rename 10 accounts, as the source's users would."""
    donation, account = DEMO_TABLES["donation"], DEMO_TABLES["account"]
    with engine.begin() as conn:
        newest = sa.select(donation.c.donationid).order_by(donation.c.createdon.desc()).limit(15)
        gone = [r[0] for r in conn.execute(newest)]
        conn.execute(donation.delete().where(donation.c.donationid.in_(gone)))
        renamed = [r[0] for r in conn.execute(sa.select(account.c.accountid).limit(10))]
        conn.execute(
            account.update()
            .where(account.c.accountid.in_(renamed))
            .values(name=account.c.name + " (renamed)", modifiedon=now)
        )


def prepare_project(folder: Path) -> Project:
    """Build the source, sync batches today-4 and today-3 (the source changing between them).

    Batches today-2 and today-1 are registered but not synced: the backfill journey's keys.
    """
    now = dt.datetime.now(dt.UTC)
    project = Project(folder=folder, today=now.date(), env=project_env(folder))
    write_config(project)
    engine = sa.create_engine(f"sqlite:///{folder / 'source.sqlite'}")
    build_source(engine, project.today)
    project.run_cli("sync", "--partition", project.batch(4))
    change_source(engine, now)
    engine.dispose()
    project.run_cli("sync", "--partition", project.batch(3))
    with project.instance() as instance:
        instance.add_dynamic_partitions(SYNC_BATCHES, [project.batch(2), project.batch(1)])
    return project


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, query: str) -> dict[str, Any]:
    """Return the data of one GraphQL request to the webserver at `url`."""
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


def location_loaded(url: str) -> bool:
    """Return whether the webserver answers and has loaded the code location."""
    query = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"
    try:
        entries = graphql(url, query)["workspaceOrError"]["locationEntries"]
    except (OSError, urllib.error.URLError, KeyError, TypeError, ValueError):
        return False
    return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)


@contextlib.contextmanager
def running_ui(project: Project, logs: Path) -> Iterator[str]:
    """Run `bronze-sync ui` (dagster dev) on a free port; yield its URL; kill its process group."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(logs, "w") as out:
        proc = subprocess.Popen(
            [BRONZE_SYNC, "ui", "--config", str(project.config_file), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=project.env,
            cwd=project.folder,
            start_new_session=True,  # its own group: the webserver, daemon, runs and steps
        )
        try:
            deadline = time.monotonic() + START_SECONDS
            while not location_loaded(url):
                if proc.poll() is not None:
                    raise AssertionError(f"bronze-sync ui exited:\n{logs.read_text()[-4000:]}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"bronze-sync ui not up:\n{logs.read_text()[-4000:]}")
                time.sleep(1)
            # A first visit from localhost opens a "Join the Dagster community" dialog over
            # every page; the UI's own Skip button records this in the instance.
            graphql(url, "mutation { setNuxSeen }")
            yield url
        finally:
            stop_group(proc)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the process group: SIGTERM, then SIGKILL for whatever is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_SECONDS)
    # Servers started without a terminal may ignore SIGTERM, and a run worker or step process
    # outliving the leader would keep writing into the folder pytest deletes.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=STOP_SECONDS)
