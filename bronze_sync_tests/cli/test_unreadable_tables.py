"""`status` and `validate` name a bronze table whose Delta log is damaged, and go on."""

from __future__ import annotations

from pathlib import Path

from bronze_sync_tests.helpers import PgTable

DAMAGED = "_delta_log/00000000000000000001.json"


def two_synced_tables(pg_engine, pg_schema, make_config, harness_for):
    account = PgTable(pg_engine, pg_schema)
    contact = PgTable(pg_engine, pg_schema, "contact")
    account.insert_ids(["a", "b"])
    contact.insert_ids(["x", "y", "z"])
    config = make_config([account.config(), contact.config()])
    h = harness_for(config)
    h.sync("account")
    h.sync("contact")
    account.update(["a"], name="renamed")
    h.sync("account")  # version 1: the entry to damage
    return config, h


def truncate(log_file: Path) -> None:
    text = log_file.read_text()
    log_file.write_text(text[: len(text) // 2])


def test_status_marks_a_table_with_a_truncated_log_unreadable_and_shows_the_others(
    pg_engine, pg_schema, make_config, harness_for, run
):
    config, h = two_synced_tables(pg_engine, pg_schema, make_config, harness_for)
    truncate(Path(h.store.table_uri("account"), DAMAGED))

    done = run("status", "--config", config.file)

    assert done.returncode == 1
    account = next(line for line in done.stdout.splitlines() if "│ account " in line)
    assert "│ unreadable: " in account
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"account: unreadable: Delta log file {DAMAGED} is damaged (")
    assert "Json error: Truncated record" in line
    contact = next(line for line in done.stdout.splitlines() if "│ contact " in line)
    cells = [cell.strip() for cell in contact.split("│")]
    assert cells[3:6] == ["merged", "0", "3"]  # kind, version, total


def test_validate_reports_the_damaged_table_and_checks_the_others(
    pg_engine, pg_schema, make_config, harness_for, run
):
    config, h = two_synced_tables(pg_engine, pg_schema, make_config, harness_for)
    truncate(Path(h.store.table_uri("account"), DAMAGED))

    done = run("validate", "--config", config.file)

    assert done.returncode == 1
    assert "unreadable bronze table(s): account" in done.stdout
    assert "Json error" in done.stdout and "00000000000000000001.json" in done.stdout
    contact = [line for line in done.stdout.splitlines() if line.startswith("│ contact")]
    assert contact and not any("FAIL" in line for line in contact)
