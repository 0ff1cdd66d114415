"""The process files start the two commands on the PostgreSQL instance, and hold no secret."""

from __future__ import annotations

import configparser
import re

import yaml

from bronze_sync_tests.deploy.conftest import DEPLOY


def test_compose_runs_postgres_webserver_and_one_daemon():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "webserver", "daemon"}
    assert services["webserver"]["command"][:2] == ["bronze-sync", "webserver"]
    assert services["daemon"]["command"] == ["bronze-sync", "daemon"]
    for name in ("webserver", "daemon"):
        service = services[name]
        assert service["environment"]["DAGSTER_PG_HOST"] == "postgres"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    # The password only ever comes from deploy/.env, never from the file itself.
    assert "${DAGSTER_PG_PASSWORD:?" in services["postgres"]["environment"]["POSTGRES_PASSWORD"]


def test_dockerfile_installs_the_deploy_extras_and_the_postgres_instance():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert '".[deploy,k8s]"' in dockerfile
    assert "COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml" in dockerfile


def test_procfile_and_systemd_units_start_the_two_commands():
    procfile = dict(
        line.split(":", 1)
        for line in (DEPLOY / "Procfile").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert procfile["web"].split()[:2] == ["bronze-sync", "webserver"]
    assert procfile["daemon"].split() == ["bronze-sync", "daemon"]
    for command in ("webserver", "daemon"):
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.read(DEPLOY / "systemd" / f"bronze-sync-{command}.service")
        service = unit["Service"]
        assert service["ExecStart"].split()[1] == command
        assert service["EnvironmentFile"] == "/etc/bronze-sync/bronze-sync.env"
        assert service["Restart"] == "on-failure"


def test_no_password_is_written_in_the_deploy_files():
    for path in DEPLOY.rglob("*"):
        if path.is_file() and not path.name.endswith(".json"):
            lines = path.read_text().splitlines()
            text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
            for match in re.finditer(r"(?i)\w*password\s*[:=]\s*(\S+)", text):
                value = match.group(1).strip("\"'")
                assert value.startswith(("${", "change-me", "unused", "{")) or value in (
                    "",
                    "env:",
                ), f"{path.name}: {match.group(0)}"
