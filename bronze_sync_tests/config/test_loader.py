"""Configuration loading: expansion, defaults and errors that name the key path."""

from __future__ import annotations

import pytest

from bronze_sync.config import load_config, parse_config
from bronze_sync.errors import ConfigError

BASE = """
source: {kind: sql, url: "${URL}"}
bronze: {path: ./data/bronze}
defaults: {max_delete_fraction: 0.2, modified_column: modifiedon}
tables:
  - {name: account, source: public.account, primary_key: accountid, created_column: createdon}
  - name: line
    source: sales.line
    primary_key: [order_id, line_no]
    modified_column: null
"""
ENV = {"URL": "postgresql+psycopg://u:pw@h/db"}


def error(text: str, env: dict[str, str] = ENV) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, env, origin="cfg.yaml")
    return str(info.value)


def test_valid_config_applies_defaults_and_expands_env():
    config = parse_config(BASE, ENV)
    account, line = config.tables
    assert config.source.url == ENV["URL"]
    assert account.max_delete_fraction == 0.2 and account.modified_column == "modifiedon"
    assert line.primary_key == ["order_id", "line_no"] and line.modified_column is None
    assert (account.source_schema, account.source_table) == ("public", "account")
    assert config.env_refs == {"source.url": "URL"}
    assert config.raw_value("source", "url") == "${URL}"


def test_env_default_and_dollar_escape():
    text = BASE.replace("./data/bronze", '"${ROOT:-/srv/bronze}/$$x"')
    assert parse_config(text, ENV).bronze.path == "/srv/bronze/$x"


def test_missing_env_var_names_variable_and_key():
    assert error(BASE, {}) == "cfg.yaml: source.url: environment variable URL is not set"


def test_malformed_yaml_gives_position():
    assert "malformed YAML at line 2" in error("tables:\n  - {name: [")


def test_unknown_key_is_rejected_with_path():
    assert error(BASE.replace("created_column", "creatd_column")) == (
        "cfg.yaml: tables[0].creatd_column: unknown key"
    )


def test_unknown_default_is_rejected():
    assert error(BASE.replace("max_delete_fraction", "max_deletes")) == (
        "cfg.yaml: defaults.max_deletes: unknown setting"
    )


def test_missing_required_key():
    assert (
        error(BASE.replace("primary_key: accountid, ", ""))
        == "cfg.yaml: tables[0].primary_key: required"
    )


def test_bad_default_value_names_defaults():
    assert "defaults.max_delete_fraction (applied to tables[0])" in error(BASE.replace("0.2", "2"))


def test_identifier_injection_is_rejected():
    message = error(BASE.replace("name: account", 'name: "x; drop table y"'))
    assert message.startswith(
        "cfg.yaml: tables[0].name: 'x; drop table y' is not a valid table name"
    )


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("source", "public.account; drop table x", "tables[0].source"),
        ("source", "a.b.c", "tables[0].source"),
        ("created_column", '"created on"', "tables[0].created_column"),
    ],
)
def test_bad_identifiers_are_rejected(field, value, path):
    text = BASE.replace(
        {"source": "public.account", "created_column": "createdon"}[field], value, 1
    )
    assert f"cfg.yaml: {path}:" in error(text)


def test_duplicate_table_names():
    text = BASE.replace("name: line", "name: account")
    assert error(text) == "cfg.yaml: tables[1].name: 'account' is already used by tables[0]"


def test_unknown_source_kind():
    assert error(BASE.replace("kind: sql", "kind: ftp")) == (
        "cfg.yaml: source.kind: 'ftp' is not a source kind ('sql', 'dataverse')"
    )


def test_several_errors_are_all_listed():
    message = error(BASE.replace("url:", "ur:"))
    assert "source.url: required" in message and "source.ur: unknown key" in message


def test_unknown_table_lookup_lists_configured():
    config = parse_config(BASE, ENV)
    with pytest.raises(
        ConfigError, match=r"unknown table 'donation' \(configured: account, line\)"
    ):
        config.select_tables(["donation"])


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        load_config(tmp_path / "nope.yaml")


def test_bundled_demo_config_loads(monkeypatch):
    monkeypatch.delenv("BRONZE_SYNC_CONFIG", raising=False)
    config = load_config()
    assert [(t.name, t.kind) for t in config.tables] == [
        ("account", "merged"),
        ("donation", "merged"),
        ("activitypointer", "merged"),
        ("campaign_daily", "partitioned"),
        ("account_tier_history", "scd2"),
        ("currency", "static"),
    ]
    assert config.file and config.file.endswith("demo_config.yaml")


DATAVERSE = """
source:
  kind: dataverse
  environment_url: https://org.crm.dynamics.com
  tenant_id: t
  client_id: c
  client_secret: "${SECRET}"
bronze: {path: ./data/bronze}
tables:
  - name: account
    source: account
    primary_key: accountid
    columns: COLUMNS
"""


def test_column_selection_is_read_for_dataverse_tables():
    text = DATAVERSE.replace("COLUMNS", "{include: [name, revenue]}")
    config = parse_config(text, {"SECRET": "s"})
    assert config.tables[0].columns.include == ["name", "revenue"]


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ("{include: [name], exclude: [revenue]}", "give include or exclude, not both"),
        ("{include: []}", "include is empty"),
        ("{exclude: [name, name]}", "repeat"),
        ("{exclude: ['bad name']}", "bad name"),
        ("{only: [name]}", "only"),
    ],
)
def test_bad_column_selection_is_refused_naming_it(columns, expected):
    message = error(DATAVERSE.replace("COLUMNS", columns), {"SECRET": "s"})
    assert "columns" in message and expected in message


def test_column_selection_on_a_sql_source_is_refused():
    text = BASE.replace(
        "primary_key: accountid, created_column: createdon}",
        "primary_key: accountid, created_column: createdon, columns: {include: [name]}}",
    )
    assert "columns (a $select of some columns) needs a Dataverse source" in error(text)
