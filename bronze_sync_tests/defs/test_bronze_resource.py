"""The bronze resource passes every Azure option to deltalake; secrets stay out of its config."""

from __future__ import annotations

import dagster as dg
import yaml
from dagster_deltalake import AzureConfig

from bronze_sync.config import parse_config
from bronze_sync.defs.resources import bronze_resource

URI = "abfss://bronze@acct.dfs.core.windows.net/lake"


def config_for(options: dict[str, object], env: dict[str, str], path: str = URI):
    text = yaml.safe_dump(
        {
            "source": {"kind": "sql", "url": "sqlite:///source.db"},
            "bronze": {"path": path, "storage_options": options},
            "tables": [{"name": "account", "source": "account", "primary_key": "id"}],
        }
    )
    return parse_config(text, env=env)


def test_service_principal_long_names_reach_deltalake_with_secret_from_env(monkeypatch):
    monkeypatch.setenv("SP_SECRET", "s3cr3t-value")
    options = {
        "azure_storage_account_name": "acct",
        "azure_client_id": "app-id",
        "azure_client_secret": "${SP_SECRET}",
        "azure_tenant_id": "tenant-id",
        "azure_authority_host": "https://login.example",
    }
    resource = bronze_resource(config_for(options, {"SP_SECRET": "s3cr3t-value"}))

    assert isinstance(resource.storage, AzureConfig)
    assert resource.storage.client_secret == dg.EnvVar("SP_SECRET")
    assert resource.extra_options == {"azure_authority_host": "https://login.example"}
    store = resource.process_config_and_initialize().store()  # as a run resolves it
    assert store.storage_options == {
        "account_name": "acct",
        "client_id": "app-id",
        "client_secret": "s3cr3t-value",
        "tenant_id": "tenant-id",
        "azure_authority_host": "https://login.example",
    }
    assert "s3cr3t-value" not in repr(store)


def test_sas_token_alias_keeps_its_variable_until_run_time(monkeypatch):
    monkeypatch.setenv("BRONZE_SAS", "sv=2022&sig=abc")
    resource = bronze_resource(
        config_for({"azure_storage_sas_token": "${BRONZE_SAS}"}, {"BRONZE_SAS": "sv=2022&sig=abc"})
    )

    assert resource.storage.sas_key == dg.EnvVar("BRONZE_SAS")
    assert "sig=abc" not in str(resource.extra_options)
    assert (
        resource.process_config_and_initialize().store().storage_options["sas_key"]
        == "sv=2022&sig=abc"
    )


def test_emulator_flag_and_account_from_the_path_make_a_valid_resource(monkeypatch):
    monkeypatch.setenv("KEY", "k")
    resource = bronze_resource(
        config_for(
            {"azure_storage_use_emulator": True, "azure_storage_account_key": "${KEY}"},
            {"KEY": "k"},
        )
    )

    options = resource.process_config_and_initialize().store().storage_options
    assert options == {
        "account_name": "acct",
        "account_key": "k",
        "azure_storage_use_emulator": "true",
    }


def test_fabric_onelake_path_with_fabric_endpoint_option():
    path = "abfss://Sales@onelake.dfs.fabric.microsoft.com/Bronze.Lakehouse/Tables"
    resource = bronze_resource(config_for({"use_fabric_endpoint": "true"}, {}, path))

    assert resource.store().storage_options == {
        "account_name": "onelake",
        "use_fabric_endpoint": "true",
    }
