"""`bronze-sync validate`: a readable table, exit 0 when healthy and 1 on an ERROR failure."""

from __future__ import annotations

import pyarrow as pa
from deltalake import write_deltalake

from bronze_sync_tests.cli.test_cli import run
from bronze_sync_tests.helpers import PgTable


def test_validate_exits_0_when_healthy_and_1_after_corruption(
    pg_engine, pg_schema, make_config, harness_for
):
    t = PgTable(pg_engine, pg_schema)
    t.insert_ids(["a", "b", "c"])
    config = make_config([t.config()])
    h = harness_for(config)
    h.sync()
    done = run("validate", "--config", config.file)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "primary_key_unique" in done.stdout and "PASS" in done.stdout
    assert "0 ERROR failure(s)" in done.stdout

    data = h.delta().to_pyarrow_table()
    write_deltalake(
        h.store.table_uri("account"), pa.concat_tables([data, data.slice(0, 1)]), mode="overwrite"
    )
    done = run("validate", "--config", config.file, "--tables", "account")
    assert done.returncode == 1
    assert "FAIL" in done.stdout and "1 key(s) appear more than once" in done.stdout


def test_validate_unknown_table_exits_2(make_config):
    config = make_config([{"name": "a", "source": "a", "primary_key": "id"}])
    assert run("validate", "--config", config.file, "--tables", "zzz").returncode == 2
