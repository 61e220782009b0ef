"""HTTPS on the web port and AMI over TLS, with certificates made by ``openssl`` at test
time (no key is kept in the repository): a real TLS client signs in and gets ``Secure``
cookies and HSTS, old protocol versions and plain HTTP are refused, and ``check-config``
names a missing file or a key that is not the certificate's."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine

from history.store import create_engine, migrate
from hotline.config import ConfigError, load_config
from hotline.tls import client_context, server_context
from hotline.web.app import create_web_app
from hotline.web.auth.build import build_web_auth
from hotline.web.auth.users import Role, UserStore
from hotline.web.server import WebServer
from hotline.web_config import ami_tls, web_tls
from telephony.ami_client import AmiClient
from telephony.emulator import AsteriskEmulator
from tests.ports import unused_port
from tests.web.support import PASSWORD, ROOT

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def self_signed(directory: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A throwaway certificate and key for ``name`` (and 127.0.0.1)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name},IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    store = create_engine(f"sqlite+aiosqlite:///{tmp_path}/web.db")
    await migrate(store)
    try:
        yield store
    finally:
        await store.dispose()


@pytest.fixture
async def https(engine: AsyncEngine, certificate: tuple[Path, Path]) -> AsyncIterator[WebServer]:
    auth = build_web_auth(engine, {}, https=True)
    users = UserStore(engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    await users.add("ada", Role.ADMIN, PASSWORD)
    app = create_web_app(readiness={}, auth=auth)
    server = WebServer(app, host="127.0.0.1", port=0, ssl_context=server_context(*certificate))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def trusting(cert: Path, **versions: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    for name, version in versions.items():
        setattr(context, name, version)
    return context


async def test_a_tls_client_signs_in_and_gets_secure_cookies_and_hsts(
    https: WebServer, certificate: tuple[Path, Path]
) -> None:
    assert https.url.startswith("https://127.0.0.1:")
    connector = aiohttp.TCPConnector(ssl=trusting(certificate[0]))
    jar = aiohttp.CookieJar(unsafe=True)  # keeps cookies of an IP address
    async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as http:
        async with http.get(https.url + "healthz") as answer:
            assert answer.status == 200
            assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
        async with http.get(https.url + "login") as page:
            login_cookie = page.headers["Set-Cookie"]
            token = page.cookies["hotline_login_csrf"].value
        assert "Secure" in login_cookie
        form = {"name": "ada", "password": PASSWORD, "csrf": token, "next": "/"}
        async with http.post(https.url + "login", data=form, allow_redirects=False) as answer:
            assert answer.status == 303
            session = [c for c in answer.headers.getall("Set-Cookie") if "hotline_session" in c]
        assert len(session) == 1
        for flag in ("Secure", "HttpOnly", "SameSite=Strict"):
            assert flag in session[0]
    host, port = "127.0.0.1", https.port
    _, writer = await asyncio.open_connection(host, port, ssl=trusting(certificate[0]))
    assert writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
    writer.close()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
async def test_tls_older_than_1_2_and_plain_http_are_refused(
    https: WebServer, certificate: tuple[Path, Path]
) -> None:
    old = trusting(certificate[0], maximum_version=ssl.TLSVersion.TLSv1_1)
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=old)) as http:
        with pytest.raises(aiohttp.ClientError):
            await http.get(https.url + "healthz")
    plain = https.url.replace("https://", "http://")
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientError):
            await http.get(plain + "healthz")
    # ... while a client that does not trust the certificate is refused by itself.
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await http.get(https.url + "healthz")


def tls_config(tmp_path: Path, tls: str) -> Path:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "hotline.yaml").write_text(f"web:\n  port: 8443\n  tls:\n{tls}")
    return config


def test_check_config_names_missing_unreadable_and_mismatched_files(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "one")
    _, other_key = self_signed(tmp_path, "two")
    config = tls_config(tmp_path, "    cert_file: nowhere.crt\n    key_file: nowhere.key\n")
    with pytest.raises(ConfigError) as missing:
        load_config(config, environ={})
    text = str(missing.value)
    assert "hotline.yaml:4: web.tls.cert_file:" in text
    assert "nowhere.crt: no such file" in text
    assert "web.tls.key_file" in text

    config = tls_config(tmp_path, f"    cert_file: {cert}\n    key_file: {other_key}\n")
    with pytest.raises(ConfigError) as mismatched:
        load_config(config, environ={})
    assert "web.tls.key_file" in str(mismatched.value)
    assert "not the key of the certificate" in str(mismatched.value)

    config = tls_config(tmp_path, f"    cert_file: {cert}\n")
    with pytest.raises(ConfigError) as half:
        load_config(config, environ={})
    assert "give both cert_file and key_file" in str(half.value)

    # Relative paths are the config directory's; a good pair gives an HTTPS context.
    shutil.copy(cert, tmp_path / "config" / "web.crt")
    shutil.copy(key, tmp_path / "config" / "web.key")
    config = tls_config(tmp_path, "    cert_file: web.crt\n    key_file: web.key\n")
    loaded = load_config(config, environ={})
    assert loaded.web.tls.cert_file == tmp_path / "config" / "web.crt"
    context = web_tls(loaded)
    assert context is not None
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_the_shipped_config_serves_plain_http_behind_a_proxy() -> None:
    config = load_config(ROOT / "config", environ={})
    assert web_tls(config) is None
    assert ami_tls(config) is None


async def test_ami_over_tls_logs_in_to_a_tls_manager_and_refuses_an_untrusted_one(
    tmp_path: Path,
) -> None:
    """The emulator's AMI behind a TLS terminator on loopback (Asterisk's ``tlsenable``
    port 5039 speaks the same AMI inside TLS)."""
    cert, key = self_signed(tmp_path, "asterisk.test")
    ami_port = unused_port()
    emulator = AsteriskEmulator(
        agi_port=unused_port(), ami_port=ami_port, ami_users={"hotline": "s3cret"}
    )
    await emulator.start()
    terminator = await asyncio.start_server(
        lambda r, w: _relay(r, w, ami_port), "127.0.0.1", 0, ssl=server_context(cert, key)
    )
    tls_port = terminator.sockets[0].getsockname()[1]
    trusted = AmiClient(
        host="127.0.0.1",
        port=tls_port,
        username="hotline",
        secret="s3cret",
        ssl=client_context(ca_file=cert),
        server_hostname="asterisk.test",
        reconnect_min_s=0.05,
        reconnect_max_s=0.1,
    )
    untrusted = AmiClient(
        host="127.0.0.1",
        port=tls_port,
        username="hotline",
        secret="s3cret",
        ssl=client_context(),  # the system's store: does not know this certificate
        server_hostname="asterisk.test",
        reconnect_min_s=0.05,
        reconnect_max_s=0.1,
    )
    try:
        await trusted.start()
        await untrusted.start()
        async with asyncio.timeout(10):
            await trusted.wait_connected()
        answer = await trusted.action("Ping")
        assert answer.get("Response") == "Success"
        await asyncio.sleep(0.3)
        assert not untrusted.connected
        assert "certificate" in (untrusted.last_error or "").lower()
    finally:
        await trusted.close()
        await untrusted.close()
        terminator.close()
        await terminator.wait_closed()
        await emulator.stop()


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)

    async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()

    await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
