"""The Dataverse client against the emulator: throttling, retries, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bronze_sync.config.connections import DataverseSourceConfig
from bronze_sync.config.models import TableConfig
from bronze_sync.errors import SourceError, SourceSchemaError, SourceUnavailableError
from bronze_sync.sources.dataverse import DataverseSource
from bronze_sync.sources.dataverse_auth import AuthenticationError
from bronze_sync.sources.dataverse_http import PrivilegeError
from bronze_sync_tests.dataverse import account_row

ACCOUNT = TableConfig(name="account", source="account", primary_key="accountid")


def source_for(emulator, **settings) -> DataverseSource:
    c = emulator.connection()
    config = DataverseSourceConfig(
        kind="dataverse",
        environment_url=c["environment_url"],
        authority_url=c["authority_url"],
        ca_file=c["ca_file"],
        client_id=c["client_id"],
        client_secret=settings.pop("client_secret", c["client_secret"]),
        retry_base_seconds=0.01,
        **settings,
    )
    return DataverseSource(config)


def read_all(source: DataverseSource, table: TableConfig = ACCOUNT) -> int:
    schema = source.describe(table)
    return sum(b.num_rows for b in source.read_rows(table, schema, None))


@pytest.mark.slow
def test_a_429_storm_pauses_every_request_for_retry_after_then_succeeds(emulator):
    emulator.insert("account", [account_row(i) for i in range(60)])
    source = source_for(emulator, page_size=5, max_concurrent_requests=3)
    emulator.throttle(after=2, count=3, retry_after=0.3)
    assert read_all(source) == 60
    records = emulator.api_requests()
    throttled = [r for r in records if r.status == 429]
    assert len(throttled) == 3 and source.http.stats["throttled"] == 3
    # Nothing was sent while a Retry-After window was open.
    for hit in throttled:
        later = [r for r in records if r.at > hit.at and r.status != 429]
        assert all(r.at >= hit.at + 0.29 for r in later)
    # 5 metadata requests + 12 pages + 3 throttled: no request storm.
    assert len(records) == 5 + 12 + 3


def test_a_503_burst_and_a_dropped_connection_are_retried(emulator, caplog):
    emulator.insert("account", [account_row(i) for i in range(20)])
    source = source_for(emulator, page_size=5)
    source.describe(ACCOUNT)
    emulator.fail(503, count=3)
    emulator.drop_connections(1)
    assert read_all(source) == 20
    assert source.http.stats["retries"] == 4
    assert "503" in caplog.text and "connection error" in caplog.text


def test_the_retry_budget_ends_with_an_error_naming_the_entity_and_status(emulator):
    source = source_for(emulator, retry_budget=2)
    source.describe(ACCOUNT)
    emulator.fail(503, count=5)
    with pytest.raises(SourceUnavailableError, match=r"account: .*2 retries.*503"):
        read_all(source)


def test_a_bad_secret_fails_clearly_without_the_secret(emulator):
    source = source_for(emulator, client_secret="wrong-Secret-123")
    with pytest.raises(AuthenticationError, match="invalid_client") as info:
        source.describe(ACCOUNT)
    assert "wrong-Secret-123" not in str(info.value)
    assert not emulator.api_requests()


def test_an_expired_access_token_is_refreshed_once(emulator):
    emulator.insert("account", [account_row(i) for i in range(3)])
    source = source_for(emulator)
    source.describe(ACCOUNT)
    emulator.expire_tokens()
    assert read_all(source) == 3
    assert [r.status for r in emulator.api_requests()].count(401) == 1


def test_unknown_entity_unknown_column_and_missing_privilege_are_named(emulator):
    source = source_for(emulator)
    ghost = TableConfig(name="ghost", source="ghost", primary_key="ghostid")
    with pytest.raises(SourceSchemaError, match=r"ghost: not found.*HTTP 404"):
        source.describe(ghost)
    bad_key = TableConfig(name="account", source="account", primary_key="acountid")
    with pytest.raises(SourceSchemaError, match="primary_key: column 'acountid'"):
        source.describe(bad_key)
    schema = source.describe(ACCOUNT)
    with pytest.raises(SourceSchemaError, match="column not found: Could not find a property"):
        list(source.read_rows(ACCOUNT, schema.append(schema.field(0).with_name("nme")), None))
    emulator.denied.add("account")
    with pytest.raises(PrivilegeError, match=r"prvReadaccount.*HTTP 403"):
        read_all(source)


def test_an_untrusted_certificate_is_a_clear_tls_error(emulator, tmp_path):
    other = tmp_path / "other-ca.pem"
    other.write_bytes(Path("/etc/ssl/certs/ca-certificates.crt").read_bytes())
    source = source_for(emulator)
    source.session.verify = str(other)
    with pytest.raises(SourceError, match=r"TLS handshake .* failed .*ca_file"):
        source.describe(ACCOUNT)


@pytest.mark.slow
def test_concurrent_reads_stay_within_the_request_cap(emulator):
    import threading

    emulator.insert("account", [account_row(i) for i in range(40)])
    emulator.latency = 0.02
    source = source_for(emulator, page_size=2, max_concurrent_requests=2)
    source.describe(ACCOUNT)
    counts: list[int] = []
    threads = [threading.Thread(target=lambda: counts.append(read_all(source))) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts == [40] * 5
    assert emulator.max_in_flight <= 2


def test_certificate_credentials_sign_in_with_a_client_assertion(emulator, tmp_path):
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bronze_sync app")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "app.pem"
    path.write_bytes(pem + cert.public_bytes(serialization.Encoding.PEM))
    thumbprint = emulator.register_certificate(cert.public_bytes(serialization.Encoding.PEM))
    c = emulator.connection()
    config = DataverseSourceConfig(
        kind="dataverse",
        environment_url=c["environment_url"],
        authority_url=c["authority_url"],
        ca_file=c["ca_file"],
        client_id=c["client_id"],
        certificate_path=str(path),
        certificate_thumbprint=thumbprint,
    )
    emulator.insert("account", [account_row(1)])
    assert read_all(DataverseSource(config)) == 1


def test_the_config_needs_exactly_one_credential():
    from pydantic import ValidationError

    base = {"kind": "dataverse", "environment_url": "https://x.crm.dynamics.com", "client_id": "c"}
    with pytest.raises(ValidationError, match="exactly one of client_secret or certificate_path"):
        DataverseSourceConfig(**base, tenant_id="t")
    with pytest.raises(ValidationError, match="tenant_id"):
        DataverseSourceConfig(**base, client_secret="s")
    assert DataverseSourceConfig(**base, tenant_id="t", client_secret="s").page_size == 5000
