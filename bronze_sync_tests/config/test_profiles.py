"""Environment profiles: a `profiles:` overlay selected by name or $BRONZE_SYNC_PROFILE."""

from __future__ import annotations

import pytest

from bronze_sync.config import PROFILE_ENV, load_config, parse_config
from bronze_sync.errors import ConfigError

FILE = """
source: {kind: sql, url: "${URL}"}
bronze: {path: ./bronze}
defaults: {log_retention_days: 400, history_retention_days: 30}
sync: {max_parallel_tables: 4, run_retries: 2}
tables:
  - {name: account, source: public.account, primary_key: accountid}
  - {name: contact, source: public.contact, primary_key: contactid, batch_size: 1000}
profiles:
  dev:
    bronze: {path: ./bronze-dev}
    defaults: {log_retention_days: 3}
    sync: {run_retries: 0}
    tables:
      contact: {enabled: false}
  prod:
    source: {url: "${PROD_URL}"}
    defaults: {log_retention_days: 365, history_retention_days: null}
"""
ENV = {"URL": "postgresql+psycopg://u:pw@dev/db"}


def error(text: str, profile: str | None, env: dict[str, str] = ENV) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, env, origin="cfg.yaml", profile=profile)
    return str(info.value)


def test_no_profile_reads_the_top_level_as_is():
    config = parse_config(FILE, ENV)
    assert config.profile is None
    assert config.bronze.path == "./bronze" and config.sync.run_retries == 2
    assert [t.log_retention_days for t in config.tables] == [400, 400]
    assert config.table("contact").enabled and config.raw_value("profiles") is None


def test_dev_profile_deep_merges_and_overrides_one_table_by_name():
    config = parse_config(FILE, ENV, profile="dev")
    assert config.profile == "dev"
    assert config.bronze.path == "./bronze-dev"
    assert config.sync.run_retries == 0 and config.sync.max_parallel_tables == 4  # merged
    account, contact = config.tables
    assert (account.log_retention_days, account.history_retention_days) == (3, 30)
    assert not contact.enabled and contact.batch_size == 1000  # the rest of contact is kept
    assert account.enabled


def test_prod_profile_expands_only_its_own_variables():
    # dev never needs PROD_URL; prod does, and null in a profile clears a setting.
    with pytest.raises(ConfigError, match="PROD_URL is not set"):
        parse_config(FILE, ENV, profile="prod")
    config = parse_config(FILE, {**ENV, "PROD_URL": "postgresql+psycopg://u:pw@prod/db"}, "p")
    assert config.profile is None  # no profile argument and no variable: top level
    prod = parse_config(
        FILE, {**ENV, "PROD_URL": "postgresql+psycopg://x@prod/db", PROFILE_ENV: "prod"}
    )
    assert prod.profile == "prod" and prod.source.url.endswith("@prod/db")
    assert prod.env_refs == {"source.url": "PROD_URL"}
    assert [(t.log_retention_days, t.history_retention_days) for t in prod.tables] == [
        (365, None),
        (365, None),
    ]


def test_a_list_of_tables_in_a_profile_replaces_the_files_tables():
    text = FILE + "  small:\n    tables: [{name: only, source: s.only, primary_key: id}]\n"
    assert [t.name for t in parse_config(text, ENV, profile="small").tables] == ["only"]


def test_environment_variable_selects_and_argument_wins(monkeypatch, tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text(FILE)
    monkeypatch.setenv("URL", ENV["URL"])
    monkeypatch.setenv(PROFILE_ENV, "dev")
    assert load_config(path).profile == "dev"
    assert load_config(path, profile="").profile is None  # explicitly none
    monkeypatch.setenv(PROFILE_ENV, "")
    assert load_config(path).profile is None


def test_unknown_profile_names_it_and_lists_the_known_ones():
    assert error(FILE, "staging") == (
        "cfg.yaml (profile staging): unknown profile 'staging' (profiles in the file: dev, prod)"
    )


def test_profile_selected_for_a_file_without_profiles_is_refused():
    plain = FILE.split("profiles:")[0]
    assert "the file has no profiles: section" in error(plain, "dev")
    assert parse_config(plain, ENV).profile is None


def test_unknown_key_in_a_profile_fails_as_in_the_main_file():
    text = FILE.replace("sync: {run_retries: 0}", "sync: {run_retrys: 0}")
    assert error(text, "dev") == "cfg.yaml (profile dev): sync.run_retrys: unknown key"
    bad_value = FILE.replace("sync: {run_retries: 0}", "sync: {run_retries: -1}")
    assert "sync.run_retries: Input should be greater than or equal to 0" in error(bad_value, "dev")
    parse_config(text, ENV)  # the profile is not applied without selecting it


def test_profile_overriding_an_unknown_table_is_refused():
    text = FILE.replace("contact: {enabled: false}", "contcat: {enabled: false}")
    assert error(text, "dev") == (
        "cfg.yaml (profile dev): profiles.dev.tables.contcat: no table of that name "
        "(configured: account, contact)"
    )


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ("profiles: [dev]", "profiles: must be a mapping of profile name to settings"),
        ("profiles: {dev: 3}", "profiles.dev: must be a mapping of settings to override"),
        ("profiles: {dev: {profiles: {}}}", "profiles.dev.profiles: profiles cannot be nested"),
    ],
)
def test_malformed_profiles_section_is_refused(profiles, message):
    text = FILE.split("profiles:")[0] + profiles + "\n"
    assert message in error(text, None)


def test_run_retries_defaults_to_two_and_refuses_negative():
    plain = FILE.split("profiles:")[0].replace("sync: {max_parallel_tables: 4, run_retries: 2}", "")
    assert parse_config(plain, ENV).sync.run_retries == 2
    assert "sync.run_retries" in error(plain + "sync: {run_retries: -1}\n", None)
