"""Run Azurite, Microsoft's Azure Storage emulator, so bronze can live on `abfss://` in tests.

Azurite is an npm package pinned in `bronze_sync_tests/azurite/package.json` (+ lock file) and
installed with `npm ci --prefix bronze_sync_tests/azurite` (the README's test command does it).
Only its Blob service is started: Delta tables on ADLS Gen2 go through the Blob API
(object_store), so `abfss://container@account.dfs.core.windows.net/path` works against it.

deltalake reaches the emulator with the storage option `azure_storage_use_emulator=true` and
the environment variable `AZURITE_BLOB_STORAGE_URL` (http://127.0.0.1:PORT); the account is
named by the URI and `azure_storage_account_name`, its key by `azure_storage_account_key`.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import hmac
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bronze_sync.config.storage_options import EMULATOR_ACCOUNT_KEY

DEV_ACCOUNT = "devstoreaccount1"
DEV_ACCOUNT_KEY = EMULATOR_ACCOUNT_KEY  # Azurite's published development key: not a secret
URL_ENV = "AZURITE_BLOB_STORAGE_URL"
EXECUTABLE_ENV = "BRONZE_SYNC_AZURITE"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / "bronze_sync_tests" / "azurite"
INSTALL_COMMAND = "npm ci --prefix bronze_sync_tests/azurite"
API_VERSION = "2021-08-06"
LISTENING = re.compile(r"successfully listens on https?://[^:\s]+:(\d+)")
CONTAINER_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")


class AzuriteError(RuntimeError):
    """Azurite could not be found, started or asked to do something."""


@dataclass(frozen=True)
class Account:
    """A storage account Azurite serves: its name and its (base64) key."""

    name: str
    key: str = field(repr=False)

    @classmethod
    def generate(cls, name: str) -> Account:
        """Return an account with a fresh random key."""
        return cls(name, base64.b64encode(secrets.token_bytes(64)).decode())


DEV = Account(DEV_ACCOUNT, DEV_ACCOUNT_KEY)


def find_executable() -> Path:
    """Return the `azurite-blob` launcher: $BRONZE_SYNC_AZURITE, the npm install, else PATH."""
    configured = os.environ.get(EXECUTABLE_ENV)
    if configured:
        return Path(configured)
    installed = PACKAGE_DIR / "node_modules" / ".bin" / "azurite-blob"
    if installed.exists():
        return installed
    on_path = shutil.which("azurite-blob")
    if on_path:
        return Path(on_path)
    raise AzuriteError(
        f"Azurite is not installed: run `{INSTALL_COMMAND}` (needs Node.js and npm), "
        f"or point {EXECUTABLE_ENV} at an azurite-blob executable"
    )


@dataclass
class Azurite:
    """A running Azurite Blob service on 127.0.0.1 and the accounts it serves."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    location: Path
    log_path: Path
    accounts: dict[str, Account]
    own_location: bool = False
    ca: Path | None = None  # with HTTPS: the certificate authority that signed its certificate

    @property
    def url(self) -> str:
        """Return the Blob service's base URL (what AZURITE_BLOB_STORAGE_URL must hold)."""
        return f"{'https' if self.ca else 'http'}://{self.host}:{self.port}"

    def environ(self) -> dict[str, str]:
        """Return the environment deltalake needs to find this emulator."""
        return {URL_ENV: self.url}

    def account(self, name: str = DEV_ACCOUNT) -> Account:
        """Return the served account `name`."""
        try:
            return self.accounts[name]
        except KeyError:
            raise AzuriteError(f"Azurite does not serve account {name!r}") from None

    def storage_options(self, account: str = DEV_ACCOUNT) -> dict[str, str]:
        """Return the deltalake storage options for `account` on this emulator."""
        served = self.account(account)
        return {
            "azure_storage_use_emulator": "true",
            "azure_storage_account_name": served.name,
            "azure_storage_account_key": served.key,
        }

    def uri(self, container: str, path: str = "", account: str = DEV_ACCOUNT) -> str:
        """Return the ADLS Gen2 URI of `path` in `container` (no trailing slash)."""
        base = f"abfss://{container}@{account}.dfs.core.windows.net"
        return f"{base}/{path.strip('/')}" if path.strip("/") else base

    def account_sas(self, permissions: str, account: str = DEV_ACCOUNT) -> str:
        """Return an account SAS (Blob service, every resource type) granting `permissions`."""
        served = self.account(account)
        version, expiry = "2019-12-12", "2099-01-01T00:00:00Z"
        to_sign = f"{served.name}\n{permissions}\nb\nsco\n\n{expiry}\n\n\n{version}\n"
        digest = hmac.new(base64.b64decode(served.key), to_sign.encode(), hashlib.sha256)
        signature = base64.b64encode(digest.digest()).decode()
        query = {"sv": version, "ss": "b", "srt": "sco", "sp": permissions, "se": expiry}
        return urllib.parse.urlencode({**query, "sig": signature})

    def create_container(self, name: str, account: str = DEV_ACCOUNT) -> None:
        """Create container `name` (nothing happens when it exists)."""
        if not CONTAINER_NAME.match(name) or "--" in name:
            raise AzuriteError(f"invalid container name {name!r}")
        status, body = self.request("PUT", account, name, {"restype": "container"})
        if status not in (201, 409):
            raise AzuriteError(f"creating container {name} failed: HTTP {status} {body[:200]!r}")

    def container(
        self, name: str | None = None, path: str = "bronze", account: str = DEV_ACCOUNT
    ) -> tuple[str, dict[str, str]]:
        """Create container `name` (a fresh one by default); return `path`'s URI and options."""
        name = name or f"bronze-{secrets.token_hex(8)}"
        self.create_container(name, account)
        return self.uri(name, path, account), self.storage_options(account)

    def containers(self, account: str = DEV_ACCOUNT) -> list[str]:
        """Return the names of the account's containers."""
        status, body = self.request("GET", account, "", {"comp": "list"})
        if status != 200:
            raise AzuriteError(f"listing containers failed: HTTP {status} {body[:200]!r}")
        return [n.text for n in ET.fromstring(body).iter("Name") if n.text]

    def list_blobs(self, container: str, account: str = DEV_ACCOUNT) -> list[str]:
        """Return the names of every blob in `container`."""
        names: list[str] = []
        marker = ""
        while True:
            query = {"restype": "container", "comp": "list"}
            if marker:
                query["marker"] = marker
            status, body = self.request("GET", account, container, query)
            if status != 200:
                raise AzuriteError(f"listing {container} failed: HTTP {status} {body[:200]!r}")
            root = ET.fromstring(body)
            names += [n.text or "" for n in root.iter("Name") if n.text]
            marker = root.findtext("NextMarker") or ""
            if not marker:
                return names

    def read_blob(self, container: str, name: str, account: str = DEV_ACCOUNT) -> bytes:
        """Return the content of blob `name` in `container`."""
        path = f"{container}/{urllib.parse.quote(name)}"
        status, body = self.request("GET", account, path, {})
        if status != 200:
            raise AzuriteError(f"reading {container}/{name} failed: HTTP {status}")
        return body

    def request(
        self, method: str, account: str, path: str, query: Mapping[str, str]
    ) -> tuple[int, bytes]:
        """Send one Shared Key signed Blob API request; return its status and body."""
        served = self.account(account)
        headers = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": API_VERSION}
        content_type = "application/octet-stream" if method == "PUT" else ""
        canonical_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
        canonical_query = "".join(f"\n{k}:{v}" for k, v in sorted(query.items()))
        # Path-style URLs carry the account twice in the canonicalized resource.
        resource = f"/{served.name}/{served.name}/{path}{canonical_query}"
        to_sign = f"{method}\n\n\n\n\n{content_type}\n\n\n\n\n\n\n{canonical_headers}{resource}"
        digest = hmac.new(base64.b64decode(served.key), to_sign.encode(), hashlib.sha256)
        signature = base64.b64encode(digest.digest()).decode()
        headers["Authorization"] = f"SharedKey {served.name}:{signature}"
        if content_type:
            headers["Content-Type"] = content_type
        url = f"{self.url}/{served.name}/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = b"" if method == "PUT" else None
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        context = ssl.create_default_context(cafile=self.ca) if self.ca else None
        try:
            with urllib.request.urlopen(req, timeout=30, context=context) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def answers(self) -> bool:
        """Return True when the service answers an authenticated request."""
        try:
            status, _ = self.request("GET", DEV_ACCOUNT, "", {"comp": "list"})
        except OSError:
            return False
        return status == 200

    def log(self) -> str:
        """Return what Azurite printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server (its whole process group) and remove its data unless it was given."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.own_location:
            shutil.rmtree(self.location, ignore_errors=True)


def start_azurite(
    location: Path | None = None,
    accounts: Sequence[Account] = (),
    executable: Path | None = None,
    startup_seconds: float = 60.0,
    tls: tuple[Path, Path, Path] | None = None,
) -> Azurite:
    """Start Azurite's Blob service on a free port of 127.0.0.1 and wait until it answers.

    `accounts` are served next to the development account. With `tls` (CA, certificate,
    key) it serves HTTPS and accepts OAuth bearer tokens (`--oauth basic`), which Azurite
    allows over HTTPS only. The server runs in its own session, so `Azurite.stop` ends it
    and its children by process group. Raises AzuriteError, with Azurite's output, when it
    cannot start.
    """
    launcher = executable or find_executable()
    own = location is None
    folder = Path(tempfile.mkdtemp(prefix="azurite-")) if location is None else location
    folder.mkdir(parents=True, exist_ok=True)
    served = {DEV.name: DEV, **{a.name: a for a in accounts}}
    env = {
        **os.environ,
        "AZURITE_ACCOUNTS": ";".join(f"{a.name}:{a.key}" for a in served.values()),
    }
    log_path = folder / "azurite.log"
    command = [
        str(launcher),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        "0",  # Azurite binds a free port and prints it
        "--location",
        str(folder / "data"),
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--loose",
        "--silent",
    ]
    if tls is not None:
        command += ["--cert", str(tls[1]), "--key", str(tls[2]), "--oauth", "basic"]
    with open(log_path, "wb") as log:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise AzuriteError(f"cannot run {launcher}: {exc}") from exc
    ca = tls[0] if tls else None
    server = Azurite("127.0.0.1", 0, process, folder, log_path, served, own_location=own, ca=ca)
    try:
        server.port = _wait_until_listening(server, startup_seconds)
    except AzuriteError:
        server.stop()
        raise
    return server


def _wait_until_listening(server: Azurite, startup_seconds: float) -> int:
    """Return the port Azurite listens on once it answers; raise AzuriteError otherwise."""
    deadline = time.monotonic() + startup_seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AzuriteError(
                f"Azurite exited with code {server.process.returncode}:\n{server.log()}"
            )
        found = LISTENING.search(server.log())
        if found:
            server.port = int(found.group(1))
            if server.answers():
                return server.port
        time.sleep(0.1)
    raise AzuriteError(f"Azurite did not answer within {startup_seconds:.0f} s:\n{server.log()}")


@contextlib.contextmanager
def running_azurite(accounts: Sequence[Account] = ()) -> Iterator[Azurite]:
    """Run Azurite for the block, with AZURITE_BLOB_STORAGE_URL set, and stop it afterwards."""
    server = start_azurite(accounts=accounts)
    previous = os.environ.get(URL_ENV)
    os.environ[URL_ENV] = server.url
    try:
        yield server
    finally:
        if previous is None:
            os.environ.pop(URL_ENV, None)
        else:
            os.environ[URL_ENV] = previous
        server.stop()
