"""The README's silver asset runs: it consumes the change feed incrementally, run after run."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from deltalake import DeltaTable

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "silver_donation.py"
README = EXAMPLE.parents[2] / "README.md"


def load_example():
    spec = importlib.util.spec_from_file_location("silver_donation", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_shows_the_example_as_it_is_tested():
    block = re.search(r"```python\n(.*?)```", README.read_text().split("## Row history")[1], re.S)
    assert block is not None and block.group(1) == EXAMPLE.read_text()


@pytest.mark.slow
def test_silver_asset_applies_only_the_changes_since_its_last_run(
    pg_engine, pg_schema, make_config, harness_for, bronze_root, tmp_path, monkeypatch
):
    donation = sa.Table(
        "donation",
        sa.MetaData(schema=pg_schema),
        sa.Column("donationid", sa.Text, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("createdon", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("modifiedon", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    donation.create(pg_engine)
    source = f"{pg_schema}.donation"
    h = harness_for(
        make_config(
            [
                {
                    "name": "donation",
                    "source": source,
                    "primary_key": "donationid",
                    "created_column": "createdon",
                    "modified_column": "modifiedon",
                    "max_delete_fraction": 0.5,
                }
            ]
        )
    )
    monkeypatch.setenv("BRONZE_PATH", str(bronze_root))
    monkeypatch.setenv("SILVER_PATH", str(tmp_path / "silver"))
    example = load_example()
    instance = dg.DagsterInstance.ephemeral()

    def silver_run():
        result = dg.materialize([example.silver_donation], instance=instance)
        assert result.success
        [event] = result.asset_materializations_for_node("silver_donation")
        rows = DeltaTable(str(tmp_path / "silver")).to_pyarrow_table().to_pylist()
        return event.metadata, {r["donationid"]: r["name"] for r in rows}

    rows = [{"donationid": f"d{i}", "name": f"gift {i}"} for i in range(5)]
    with pg_engine.begin() as conn:
        conn.execute(donation.insert(), rows)
    h.sync()
    meta, silver = silver_run()
    assert meta["bronze_version"].value == 0 and len(silver) == 5

    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE {source} SET name = 'renamed', modifiedon = now() WHERE donationid = 'd1'"
        )
        conn.exec_driver_sql(f"DELETE FROM {source} WHERE donationid = 'd2'")
    h.sync()
    meta, silver = silver_run()
    assert meta["bronze_version"].value == 1 and meta["changed_keys"].value == 2
    assert silver == {"d0": "gift 0", "d1": "renamed", "d3": "gift 3", "d4": "gift 4"}
