"""Table kinds in the configuration: each kind's settings, and the errors that name them."""

from __future__ import annotations

import pytest

from bronze_sync.config import parse_config
from bronze_sync.errors import ConfigError

HEAD = """
source: {kind: sql, url: "sqlite:///x.db"}
bronze: {path: ./data/bronze}
tables:
"""
GOOD = """
  - {name: positions, source: dbo.Positions, kind: partitioned, primary_key: [PositionId, COBID],
     partition_column: COBID, initial_partitions: 5}
  - {name: customer_history, source: dbo.CustomerHistory, kind: scd2,
     primary_key: [CustomerId, LastModified], business_key: CustomerId,
     modified_column: LastModified, latest_column: IsLatest, initial_load_days: 7}
  - {name: currency, source: ref.Currency, kind: static, primary_key: CurrencyCode,
     static_mode: upsert}
  - {name: account, source: account, primary_key: accountid}
"""


def error(tables: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(HEAD + tables, {}, origin="cfg.yaml")
    return str(info.value)


def test_each_kind_reads_its_settings():
    positions, history, currency, account = parse_config(HEAD + GOOD, {}).tables
    assert (positions.kind, positions.partition_column, positions.initial_partitions) == (
        "partitioned",
        "COBID",
        5,
    )
    assert (history.business_key, history.latest_column, history.initial_load_days) == (
        ["CustomerId"],
        "IsLatest",
        7,
    )
    assert (currency.kind, currency.static_mode) == ("static", "upsert")
    assert account.kind == "merged"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "{name: p, source: p, kind: partitioned, primary_key: [id, cobid]}",
            "tables[0]: table p: partition_column: required for kind partitioned",
        ),
        (
            "{name: p, source: p, kind: partitioned, primary_key: id, partition_column: cobid}",
            "partition_column: 'cobid' must be part of primary_key",
        ),
        (
            "{name: h, source: h, kind: scd2, primary_key: [id, at], business_key: other, "
            "modified_column: at, latest_column: l}",
            "business_key: ['other'] must be part of primary_key",
        ),
        (
            "{name: h, source: h, kind: scd2, primary_key: [id, at], business_key: id, "
            "modified_column: at}",
            "latest_column: required for kind scd2",
        ),
        (
            "{name: h, source: h, kind: scd2, primary_key: [id, v], business_key: id, "
            "modified_column: at, latest_column: l}",
            "modified_column: 'at' must be part of primary_key",
        ),
        (
            "{name: c, source: c, kind: static, primary_key: code, static_mode: mirror}",
            "static_mode",
        ),
        (
            "{name: a, source: a, primary_key: id, partition_column: cobid}",
            "partition_column: only for kind partitioned (this table is merged)",
        ),
        ("{name: a, source: a, primary_key: id, kind: snapshot}", "kind"),
    ],
)
def test_bad_kind_settings_name_the_table_and_setting(table, message):
    assert message in error(f"  - {table}\n")


def test_kinds_need_a_sql_source():
    text = """
source: {kind: dataverse, environment_url: "https://x.crm.dynamics.com", tenant_id: t,
         client_id: c, client_secret: s}
bronze: {path: ./data/bronze}
tables:
  - {name: currency, source: currency, kind: static, primary_key: code}
"""
    with pytest.raises(ConfigError, match=r"currency \(static\): kinds .* need a SQL source"):
        parse_config(text, {}, origin="cfg.yaml")
