"""Azure storage options: every name deltalake reads is accepted, any other is refused by name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bronze_sync.config import parse_config
from bronze_sync.config.storage_options import (
    AZURE_NAMES,
    BOOLEAN_KEYS,
    EMULATOR_ACCOUNT_KEY,
    display_uri,
    is_secret_option,
)
from bronze_sync.errors import ConfigError

URI = "abfss://bronze@acct.dfs.core.windows.net/lake"


def config_text(options: dict[str, object], path: str = URI) -> str:
    return yaml.safe_dump(
        {
            "source": {"kind": "sql", "url": "sqlite:///source.db"},
            "bronze": {"path": path, "storage_options": options},
            "tables": [{"name": "account", "source": "account", "primary_key": "id"}],
        }
    )


@pytest.mark.parametrize(
    "name",
    [
        "azure_storage_account_name",
        "azure_storage_account_key",
        "azure_storage_use_emulator",
        "azure_client_id",
        "azure_client_secret",
        "azure_tenant_id",
        "azure_storage_sas_key",
        "sas_token",
        "use_fabric_endpoint",
        "azure_use_fabric_endpoint",
        "azure_authority_host",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "azure_allow_http",
        "max_retries",
    ],
)
def test_deltalake_long_option_names_are_accepted(name):
    value = "true" if "use_" in name.lower() or "allow" in name else "1"
    written = "${V}" if is_secret_option(name) else value
    config = parse_config(config_text({name: written}), env={"V": value})

    assert config.bronze.storage_options == {name: value}


def test_every_object_store_alias_is_accepted():
    for name, canonical in AZURE_NAMES.items():
        value = "false" if canonical in BOOLEAN_KEYS else "x"
        written = "${V}" if is_secret_option(name) else value
        config = parse_config(config_text({name: written}), env={"V": value})
        assert config.bronze.storage_options == {name: value}
    assert len(AZURE_NAMES) > 80


@pytest.mark.parametrize(
    "name", ["azure_storage_account_key", "client_secret", "sas_token", "bearer_token"]
)
def test_credential_written_into_the_file_is_refused_naming_it(name):
    with pytest.raises(ConfigError) as refused:
        parse_config(config_text({name: "s3cr3t-literal"}), env={})

    message = str(refused.value)
    assert f"bronze.storage_options.{name}: a credential must be written as ${{VAR}}" in message
    assert "s3cr3t-literal" not in message


def test_azurite_published_development_key_may_be_written_as_is():
    options = {"use_emulator": True, "account_key": EMULATOR_ACCOUNT_KEY}
    config = parse_config(config_text(options), env={})

    assert config.bronze.storage_options["account_key"] == EMULATOR_ACCOUNT_KEY


def test_unknown_option_is_refused_naming_it():
    with pytest.raises(ConfigError) as refused:
        parse_config(config_text({"azure_storage_acount_key": "x"}), env={})

    message = str(refused.value)
    assert "bronze.storage_options.azure_storage_acount_key: unknown storage option" in message
    assert "\n" not in message


def test_two_aliases_of_one_setting_are_refused():
    with pytest.raises(ConfigError, match=r"same setting as bronze\.storage_options\.account_key"):
        options = {"account_key": "${A}", "azure_storage_account_key": "${B}"}
        parse_config(config_text(options), env={"A": "a", "B": "b"})


def test_flag_that_is_not_true_or_false_is_refused():
    with pytest.raises(ConfigError, match=r"use_emulator: 'maybe' is not true or false"):
        parse_config(config_text({"use_emulator": "maybe"}), env={})


def test_yaml_boolean_becomes_the_text_deltalake_reads():
    config = parse_config(config_text({"azure_storage_use_emulator": True}), env={})

    assert config.bronze.storage_options == {"azure_storage_use_emulator": "true"}


def test_path_without_account_and_no_account_option_is_refused(monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME", raising=False)

    with pytest.raises(ConfigError, match="no storage account: give azure_storage_account_name"):
        parse_config(config_text({"azure_storage_account_key": "k"}, "abfss://bronze/lake"), env={})


def test_secret_in_a_variable_is_expanded_and_its_reference_kept():
    config = parse_config(config_text({"azure_storage_sas_token": "${SAS}"}), env={"SAS": "sv=1"})

    assert config.bronze.storage_options == {"azure_storage_sas_token": "sv=1"}
    assert config.env_refs["bronze.storage_options.azure_storage_sas_token"] == "SAS"


def test_s3_options_are_not_checked_against_azure_names():
    config = parse_config(config_text({"aws_region": "eu-west-1"}, "s3://bucket/lake"), env={})

    assert config.bronze.storage_options == {"aws_region": "eu-west-1"}


def test_display_uri_drops_a_sas_query_and_a_password():
    assert display_uri("https://a.blob.core.windows.net/c/x?sv=1&sig=abc") == (
        "https://a.blob.core.windows.net/c/x"
    )
    assert display_uri("s3://user:pw@host/bucket") == "s3://user:***@host/bucket"
    assert display_uri(URI) == URI


def test_every_readme_onelake_and_adls_example_is_a_valid_configuration():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Bronze on OneLake / ADLS", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    env = dict.fromkeys(re.findall(r"\$\{([A-Z_]+)\}", section), "value")

    for block in blocks:
        bronze = yaml.safe_load(block)["bronze"]
        text = config_text(bronze["storage_options"], bronze["path"])
        assert parse_config(text, env=env).bronze.path == bronze["path"]
    assert len(blocks) == 4
