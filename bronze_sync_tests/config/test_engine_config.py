"""The engine setting: spark needs its block, refuses what it cannot do, hides the token."""

from __future__ import annotations

import pytest

from bronze_sync.config import parse_config
from bronze_sync.errors import ConfigError

HEAD = """
source: {kind: sql, url: "sqlite:///x.db"}
bronze: {path: ./data/bronze}
"""
SPARK = 'spark: {remote: "sc://cluster.internal:15002/;token=${TOKEN}"}'


def parse(text: str):
    return parse_config(HEAD + text, {"TOKEN": "secret-token"}, origin="cfg.yaml")


def error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return str(info.value)


def test_engine_defaults_to_native_and_spark_can_come_from_defaults():
    config = parse(
        f"defaults: {{engine: spark, {SPARK}}}\n"
        "tables:\n  - {name: a, source: a, primary_key: id}\n"
        "  - {name: b, source: b, primary_key: id, engine: native}\n"
    )
    a, b = config.tables
    assert (a.engine, b.engine) == ("spark", "native")
    assert a.spark is not None and a.spark.endpoint == "sc://cluster.internal:15002"
    assert parse("tables:\n  - {name: c, source: c, primary_key: id}\n").tables[0].engine == (
        "native"
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("{name: a, source: a, primary_key: id, engine: spark}", "needs a spark block"),
        (
            f"{{name: a, source: a, primary_key: id, engine: spark, kind: static, {SPARK}}}",
            "kind merged tables only",
        ),
        ("{name: a, source: a, primary_key: id, engine: flink}", "engine"),
    ],
)
def test_bad_engine_settings_name_the_table(table, message):
    text = error(f"tables:\n  - {table}\n")
    assert message in text and "secret-token" not in text


def test_a_remote_that_is_not_spark_connect_is_refused_without_its_token():
    text = error(
        "tables:\n  - {name: a, source: a, primary_key: id, engine: spark, "
        'spark: {remote: "http://cluster:15002/;token=${TOKEN}"}}\n'
    )
    assert "not a Spark Connect address" in text and "secret-token" not in text


def test_a_top_level_spark_block_is_every_spark_tables_endpoint_unless_it_names_its_own():
    config = parse(
        f"{SPARK}\n"
        "defaults: {engine: native}\n"
        "tables:\n  - {name: a, source: a, primary_key: id, engine: spark}\n"
        "  - {name: b, source: b, primary_key: id, engine: spark, "
        "spark: {remote: 'sc://other.internal:443'}}\n"
        "  - {name: c, source: c, primary_key: id}\n"
    )
    a, b, c = config.tables
    assert a.spark is not None and a.spark.endpoint == "sc://cluster.internal:15002"
    assert b.spark is not None and b.spark.endpoint == "sc://other.internal:443"
    assert c.engine == "native"


def test_a_bad_top_level_spark_block_is_named_as_such():
    text = error(
        "spark: {remote: 'http://cluster:15002'}\ntables:\n  - {name: a, source: a, "
        "primary_key: id, engine: spark}\n"
    )
    assert text == (
        "cfg.yaml: spark.remote: remote 'http://cluster:15002' is not a Spark Connect address "
        "(sc://host:port/;token=...)"
    )
