"""`bronze-sync history` and `bronze-sync changes`: a row's timeline, backfill, the feed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from bronze_sync.history.columns import CHANGED_COLUMNS, history_uri
from bronze_sync.history.feed import read_changes
from bronze_sync.history.store import Coverage, read_coverage
from bronze_sync_tests.helpers import PgTable


@pytest.fixture
def account(pg_engine, pg_schema) -> PgTable:
    return PgTable(pg_engine, pg_schema)


@pytest.fixture
def synced(account, make_config, harness_for) -> Any:
    """Return a harness whose account table went through insert → update → delete."""
    h = harness_for(make_config([account.config(max_delete_fraction=1)]))
    account.insert_ids(["a", "b", "c"])
    h.sync(partition="2026-03-01")  # version 0
    account.update(["a"], name="renamed", amount=7)
    account.insert_ids(["d"])
    h.sync(partition="2026-03-02")  # version 1
    account.delete(["a"])
    h.sync(partition="2026-03-03")  # version 2
    return h


def history_rows(h: Any, name: str = "account") -> list[dict[str, Any]]:
    """Return the whole history table's rows, sorted by version and key."""
    delta = h.store.open(history_uri(h.store, name))
    assert delta is not None, "no history table"
    return _sorted(delta.to_pyarrow_table())


def _sorted(rows: pa.Table) -> list[dict[str, Any]]:
    return rows.sort_by([("BronzeVersion", "ascending"), ("id", "ascending")]).to_pylist()


def test_timeline_shows_each_version_newest_first_with_old_and_new_values(synced, run):
    done = run("history", "--config", synced.config.file, "--table", "account", "--key", "a")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.index("DELETE") < out.index("UPDATE") < out.index("INSERT")
    assert "2026-03-02" in out and "2026-03-03" in out
    update = out[out.index("UPDATE") : out.index("INSERT")]
    assert "name a" in update and "renamed" in update
    delete = out[out.index("DELETE") : out.index("UPDATE")]
    assert "IsDeleted" in delete and "False" in delete and "True" in delete


def test_timeline_as_json_for_scripts(synced, run):
    done = run(
        "history", "--config", synced.config.file, "--table", "account", "--key", "id=a", "--json"
    )
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert [e["operation"] for e in entries] == ["DELETE", "UPDATE", "INSERT"]
    assert [e["version"] for e in entries] == [2, 1, 0]
    assert [e["partition_key"] for e in entries] == ["2026-03-03", "2026-03-02", "2026-03-01"]
    update = {c["column"]: c for c in entries[1]["changes"]}
    assert (update["name"]["old"], update["name"]["new"]) == ("name a", "renamed")
    assert float(update["amount"]["old"]) == 1.5 and float(update["amount"]["new"]) == 7
    assert entries[0]["changes"] == [{"column": "IsDeleted", "old": False, "new": True}]
    assert all(e["run_id"] and e["changed_at"].endswith("+00:00") for e in entries)


def test_composite_key_is_given_column_by_column(account, make_config, harness_for, run):
    h = harness_for(make_config([account.config(primary_key=["id", "name"])]))
    account.insert_ids(["a", "b"])
    h.sync()
    account.update(["b"], amount=9)
    h.sync()
    args = ["history", "--config", h.config.file, "--table", "account", "--json"]
    done = run(*args, "--key", "name=name b", "--key", "id=b")
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert [e["operation"] for e in entries] == ["UPDATE", "INSERT"]
    assert {c["column"] for c in entries[0]["changes"]} >= {"amount"}

    bare = run(*args, "--key", "b")
    assert bare.returncode == 2 and "id, name" in bare.stderr
    half = run(*args, "--key", "id=b")
    assert half.returncode == 2 and "key column" in bare.stderr


def test_unknown_key_and_unknown_table_exit_1(synced, run):
    never = run("history", "--config", synced.config.file, "--table", "account", "--key", "zz")
    assert never.returncode == 1
    assert "no row with id=zz" in never.stderr

    unknown = run("history", "--config", synced.config.file, "--table", "nope", "--key", "a")
    assert unknown.returncode == 1
    assert "unknown table 'nope'" in unknown.stderr and "account" in unknown.stderr


def test_a_table_never_synced_has_no_history(account, make_config, run):
    config = make_config([account.config()]).file
    timeline = run("history", "--config", config, "--table", "account", "--key", "a")
    assert timeline.returncode == 1 and "no history yet" in timeline.stderr
    feed = run("changes", "--config", config, "--table", "account", "--since-version", "-1")
    assert feed.returncode == 1 and "bronze-sync history --backfill" in feed.stderr
    backfill = run("history", "--config", config, "--backfill")
    assert backfill.returncode == 1 and "nothing to backfill" in backfill.stderr


def test_usage_errors_exit_2(synced, run, tmp_path):
    config = synced.config.file
    both = run("history", "--config", config, "--backfill", "--table", "account", "--key", "a")
    assert both.returncode == 2 and "--backfill" in both.stderr
    assert run("history", "--config", config, "--table", "account").returncode == 2
    assert run("history", "--config", config, "--tables", "account").returncode == 2
    wrong = run("changes", "--config", config, "--table", "account", "--since-version", "0",
                "--out", str(tmp_path / "rows.json"))  # fmt: skip
    assert wrong.returncode == 2 and ".parquet or .csv" in wrong.stderr
    assert not (tmp_path / "rows.json").exists()


def test_changes_summary_names_the_range_and_the_next_since_version(synced, run):
    done = run("changes", "--config", synced.config.file, "--table", "account",
               "--since-version", "0")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "versions 1..2" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "next --since-version 2"
    counts = dict(re.findall(r"│ ([A-Z]+) +│ +(\d+) │", done.stdout))
    assert counts == {"UPDATE": "1", "INSERT": "1", "DELETE": "1"}

    nothing = run("changes", "--config", synced.config.file, "--table", "account",
                  "--since-version", "2")  # fmt: skip
    assert nothing.returncode == 0 and "0 changed row(s)" in nothing.stdout
    assert nothing.stdout.strip().splitlines()[-1] == "next --since-version 2"


def test_changes_to_parquet_and_csv_equal_read_changes(synced, run, tmp_path):
    expected = read_changes(synced.store, "account", since_version=0).read_all()
    assert expected.num_rows == 3
    parquet, csv = tmp_path / "feed.parquet", tmp_path / "feed.csv"
    base = ["changes", "--config", synced.config.file, "--table", "account"]
    done = run(*base, "--since-version", "0", "--out", str(parquet))
    assert done.returncode == 0, done.stderr
    assert "wrote 3 changed row(s)" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "next --since-version 2"
    assert _sorted(pq.read_table(parquet)) == _sorted(expected)

    done = run(*base, "--since-version", "0", "--until-version", "2", "--out", str(csv))
    assert done.returncode == 0, done.stderr
    types = {f.name: f.type for f in expected.schema if f.name != CHANGED_COLUMNS}
    back = pacsv.read_csv(csv, convert_options=pacsv.ConvertOptions(column_types=types))
    joined = pc.binary_join(expected.column(CHANGED_COLUMNS), ";")
    index = expected.schema.get_field_index(CHANGED_COLUMNS)
    wanted = expected.set_column(index, CHANGED_COLUMNS, joined)
    assert back.column_names == wanted.column_names
    assert _sorted(back) == _sorted(wanted)
    assert any(";" in v for v in back.column(CHANGED_COLUMNS).to_pylist())
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    ("since", "until", "says"),
    [
        ("3", None, "since-version 3 is above the current version 2"),
        ("-2", None, "since-version -2 is below the oldest version"),
        ("0", "5", "until-version 5 must lie between"),
    ],
)
def test_versions_out_of_range_exit_2_naming_the_range(synced, run, tmp_path, since, until, says):
    out = tmp_path / "feed.parquet"
    args = ["changes", "--config", synced.config.file, "--table", "account"]
    args += ["--since-version", since, "--out", str(out)]
    if until is not None:
        args += ["--until-version", until]
    done = run(*args)
    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert says in message
    assert "current version 2" in message if until else "available: since-version -1..2" in message
    assert not out.exists()


def test_backfill_rebuilds_a_deleted_history_exactly(synced, run):
    before = history_rows(synced)
    shutil.rmtree(Path(history_uri(synced.store, "account")))
    done = run("history", "--config", synced.config.file, "--backfill", "--tables", "account")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "account: rebuilt versions 0..2 (6 row(s))" in " ".join(done.stdout.split())
    assert history_rows(synced) == before

    again = run("history", "--config", synced.config.file, "--backfill")
    assert again.returncode == 0 and "nothing to rebuild" in again.stdout


def test_backfill_reports_what_vacuum_removed(account, synced, run):
    shutil.rmtree(Path(history_uri(synced.store, "account")))
    # VACUUM removes the files versions 0..2 read (and commits versions 3 and 4 itself).
    synced.delta().vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    account.update(["b"], name="after vacuum")
    after = synced.sync()
    # The sync starts the history after what VACUUM removed; a backfill then settles it.
    assert (after.version, after.history_error, after.history_first) == (5, None, 3)
    done = run("history", "--config", synced.config.file, "--backfill")
    assert done.returncode == 0, done.stdout + done.stderr
    text = " ".join(done.stdout.split())
    assert "account: nothing to rebuild; versions 0..2 cannot be rebuilt" in text
    assert "removed by VACUUM" in text
    assert read_coverage(synced.store, "account") == Coverage(3, 5, True)
    rows = history_rows(synced)
    assert [(r["BronzeVersion"], r["id"], r["Operation"]) for r in rows] == [(5, "b", "UPDATE")]
