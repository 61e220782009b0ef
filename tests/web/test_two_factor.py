"""Two-factor sign-in over real HTTP: enrolment confirmed by a code, the code asked after
the password, guesses throttled even when fired at once or from many addresses, codes and
recovery codes used once, roles that require it, an admin's and the CLI's reset."""

from __future__ import annotations

import asyncio
import base64
import html
import io
import re
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from history.audit import AuditLog
from history.models import RecoveryCodeRow, WebUserRow
from history.store import create_engine, migrate
from hotline.cli import main
from hotline.web.app import create_web_app
from hotline.web.auth.guard import WebAuth
from hotline.web.auth.sessions import COOKIE, SessionStore
from hotline.web.auth.throttle import LoginThrottle
from hotline.web.auth.totp import totp
from hotline.web.auth.two_factor import TwoFactorPolicy, TwoFactorStore, Verdict
from hotline.web.auth.users import Role, UserStore
from hotline.web.connections import WebLimits
from hotline.web.server import WebServer
from hotline.workers import WorkPool
from tests.web.support import PASSWORD

NOW = 1_900_000_000.0  # a fixed moment in the middle of a time step
HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Site:
    def __init__(
        self, server: WebServer, auth: WebAuth, clock: Clock, store: TwoFactorStore
    ) -> None:
        self.server, self.auth, self.clock, self.store = server, auth, clock, store
        self.checked = 0  # codes that reached the store (after the throttle)

    @property
    def url(self) -> str:
        return self.server.url

    def code(self, secret: str, offset_steps: int = 0) -> str:
        key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        return totp(key, self.clock.now + 30 * offset_steps)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    store = create_engine(f"sqlite+aiosqlite:///{tmp_path}/web.db")
    await migrate(store)
    try:
        yield store
    finally:
        await store.dispose()


async def make_site(
    engine: AsyncEngine, *, required_for: frozenset[str] = frozenset(), max_failures: int = 20
) -> tuple[WebServer, Site]:
    users = UserStore(engine, hasher=HASHER, hashing=WorkPool("test-hash", max_waiting=500))
    clock = Clock()
    store = TwoFactorStore(
        engine,
        hasher=HASHER,
        hashing=users.hashing,
        unix_clock=clock,
        max_failures=max_failures,
    )
    users.two_factor = store
    for name, role in (("sam", Role.SUPERVISOR), ("ada", Role.ADMIN), ("1001", Role.AGENT)):
        await users.add(name, role, PASSWORD)
    auth = WebAuth(
        users,
        SessionStore(),
        LoginThrottle(per_user_address=5, per_address=10, per_user_codes=5),
        two_factor=TwoFactorPolicy(required_for=required_for),
    )
    app = create_web_app(readiness={}, auth=auth, audit=AuditLog(engine))
    wide = WebLimits(max_connections=1000, max_connections_per_address=1000)
    server = WebServer(app, host="127.0.0.1", port=0, limits=wide)
    await server.start()
    site = Site(server, auth, clock, store)
    verify = store.verify

    async def counted(name: str, code: str) -> Verdict:
        site.checked += 1
        return await verify(name, code)

    store.verify = counted  # type: ignore[method-assign]
    return server, site


@pytest.fixture
async def site(engine: AsyncEngine) -> AsyncIterator[Site]:
    server, built = await make_site(engine)
    try:
        yield built
    finally:
        await server.close()


def browser(address: str = "127.0.0.1") -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0, local_addr=(address, 0))
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True))


def field(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, page
    return html.unescape(match[1])


async def password(http: aiohttp.ClientSession, url: str, name: str) -> tuple[int, str]:
    """The password step: the status and the page it answers with (no redirects)."""
    async with http.get(url + "login") as response:
        token = field(await response.text(), "csrf")
    form = {"name": name, "password": PASSWORD, "csrf": token, "next": "/"}
    async with http.post(url + "login", data=form, allow_redirects=False) as response:
        return response.status, await response.text()


def cookie(http: aiohttp.ClientSession, name: str) -> str:
    return next(c.value for c in http.cookie_jar if c.key == name)


async def code_step(http: aiohttp.ClientSession, url: str, page: str, code: str) -> int:
    """Type a code on the code form (every page rendered renews the form's token)."""
    form = {"code": code, "csrf": cookie(http, "hotline_login_csrf")}
    async with http.post(url + "login/code", data=form, allow_redirects=False) as response:
        await response.read()
        return response.status


async def scripted_codes(http: aiohttp.ClientSession, url: str, codes: list[str]) -> list[int]:
    """An attacker's script: the one pending sign-in's cookies sent with every guess, all at
    once (no cookie jar: nothing a response sets is taken up)."""
    cookies = "; ".join(
        f"{name}={cookie(http, name)}" for name in ("hotline_login_csrf", "hotline_login_pending")
    )
    token = cookie(http, "hotline_login_csrf")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as script:

        async def guess(code: str) -> int:
            form = {"code": code, "csrf": token}
            async with script.post(
                url + "login/code", data=form, headers={"Cookie": cookies}, allow_redirects=False
            ) as response:
                await response.read()
                return response.status

        return list(await asyncio.gather(*(guess(code) for code in codes)))


def signed_in(http: aiohttp.ClientSession) -> bool:
    return any(cookie.key == COOKIE for cookie in http.cookie_jar)


async def enrol(site: Site, http: aiohttp.ClientSession) -> tuple[str, list[str]]:
    """Set up two-factor sign-in on a signed-in browser: the secret and recovery codes."""
    async with http.get(site.url + "account/two-factor") as response:
        assert response.status == 200
        page = await response.text()
    secret = re.search(r'<code id="secret" dir="ltr">([^<]+)</code>', page)
    assert secret
    key = secret[1].replace(" ", "")
    form = {"code": site.code(key), "csrf": field(page, "csrf")}
    async with http.post(site.url + "account/two-factor/confirm", data=form) as response:
        assert response.status == 200
        page = await response.text()
    codes = re.findall(r"<li><code>([0-9a-z\-]+)</code></li>", page)
    assert len(codes) == 10
    return key, codes


async def test_enrolment_takes_effect_only_when_a_code_confirms_it(
    site: Site, engine: AsyncEngine
) -> None:
    async with browser() as http:
        status, _ = await password(http, site.url, "sam")
        assert status == 303  # no second factor yet: signed in
        async with http.get(site.url + "account/two-factor") as response:
            page = await response.text()
        assert "<svg" in page  # the QR code
        uri = html.unescape(re.search(r'id="otpauth" href="([^"]+)"', page)[1])  # type: ignore[index]
        assert uri.startswith("otpauth://totp/hotline:sam?secret=")
        secret = uri.split("secret=")[1].split("&")[0]
        wrong = str((int(site.code(secret)) + 1) % 1_000_000).zfill(6)
        form = {"code": wrong, "csrf": field(page, "csrf")}
        async with http.post(site.url + "account/two-factor/confirm", data=form) as response:
            assert response.status == 422
        assert not (await site.auth.users.two_factor.status("sam")).enabled
        # The same key (still pending in the session) with its right code turns it on.
        form = {"code": site.code(secret), "csrf": field(page, "csrf")}
        async with http.post(site.url + "account/two-factor/confirm", data=form) as response:
            page = await response.text()
        assert len(re.findall(r"<li><code>", page)) == 10
    state = await site.auth.users.two_factor.status("sam")
    assert state.enabled
    assert state.recovery_codes_left == 10
    async with engine.connect() as db:
        hashes = (await db.execute(select(RecoveryCodeRow.code_hash))).scalars().all()
    assert all(h.startswith("$argon2id$") for h in hashes)


async def test_sign_in_asks_the_code_after_the_password_and_refuses_its_replay(
    site: Site,
) -> None:
    async with browser() as http:
        await password(http, site.url, "ada")
        secret, _ = await enrol(site, http)
    site.clock.now += 30  # the code used to enrol is spent: the next step's is new
    async with browser() as http:
        status, page = await password(http, site.url, "ada")
        assert status == 200
        assert 'id="login-code"' in page
        assert not signed_in(http)  # the right password alone opens no session
        wrong = str((int(site.code(secret)) + 7) % 1_000_000).zfill(6)
        assert await code_step(http, site.url, page, wrong) == 401
        assert not signed_in(http)
        assert await code_step(http, site.url, page, site.code(secret)) == 303
        assert signed_in(http)
    # The same code, a second later, from another browser: refused (used once).
    site.clock.now += 1
    async with browser() as http:
        _, page = await password(http, site.url, "ada")
        assert await code_step(http, site.url, page, site.code(secret)) == 401
        assert not signed_in(http)
        # A phone a step behind or ahead is still accepted, once the step is new.
        assert await code_step(http, site.url, page, site.code(secret, +1)) == 303


async def test_two_hundred_code_guesses_at_once_are_checked_at_most_five_times(
    site: Site,
) -> None:
    async with browser() as http:
        await password(http, site.url, "ada")
        await enrol(site, http)
    site.checked = 0
    async with asyncio.timeout(60), browser() as http:
        await password(http, site.url, "ada")
        codes = [str(n).zfill(6) for n in range(100_000, 100_200)]
        statuses = await scripted_codes(http, site.url, codes)
    assert 0 < site.checked <= 5
    assert set(statuses) == {401, 429}  # refused: throttled, wrong, or the sign-in ended
    assert statuses.count(429) >= 100


async def test_guesses_spread_over_many_addresses_share_the_users_code_limit(
    site: Site,
) -> None:
    async with browser() as http:
        await password(http, site.url, "ada")
        await enrol(site, http)
    site.checked = 0
    statuses = []
    for host in range(2, 22):  # 20 addresses, each with the password, 3 codes each
        async with browser(f"127.0.0.{host}") as http:
            status, page = await password(http, site.url, "ada")
            if status != 200 or 'id="login-code"' not in page:
                statuses.append(status)
                continue
            for n in range(3):
                statuses.append(await code_step(http, site.url, page, f"{host:03d}{n:03d}"))
    assert site.checked <= 5  # per_user_codes, whichever address the guesses come from
    assert 429 in statuses


async def test_wrong_codes_in_a_row_stop_codes_until_a_recovery_code(engine: AsyncEngine) -> None:
    server, site = await make_site(engine, max_failures=3)
    try:
        async with browser() as http:
            await password(http, site.url, "ada")
            secret, recovery = await enrol(site, http)
        site.clock.now += 30
        store = site.auth.users.two_factor
        for n in range(3):
            assert await store.verify("ada", f"00000{n}") is Verdict.WRONG
        assert await store.verify("ada", site.code(secret)) is Verdict.LOCKED
        assert (await store.status("ada")).locked
        assert await store.use_recovery_code("ada", recovery[0])
        assert await store.verify("ada", site.code(secret)) is Verdict.ACCEPTED
    finally:
        await server.close()


async def test_a_recovery_code_signs_in_once(site: Site) -> None:
    async with browser() as http:
        await password(http, site.url, "sam")
        _, recovery = await enrol(site, http)
    async with browser() as http:
        _, page = await password(http, site.url, "sam")
        assert await code_step(http, site.url, page, recovery[3].upper()) == 303
        assert signed_in(http)
    async with browser() as http:
        _, page = await password(http, site.url, "sam")
        assert await code_step(http, site.url, page, recovery[3]) == 401
        assert not signed_in(http)
    assert (await site.auth.users.two_factor.status("sam")).recovery_codes_left == 9


async def test_one_code_sent_twice_at_once_is_accepted_once(site: Site) -> None:
    async with browser() as http:
        await password(http, site.url, "sam")
        secret, _ = await enrol(site, http)
    site.clock.now += 30
    store = site.auth.users.two_factor
    verdicts = await asyncio.gather(*(store.verify("sam", site.code(secret)) for _ in range(5)))
    assert verdicts.count(Verdict.ACCEPTED) == 1


async def test_a_role_that_requires_it_reaches_only_the_set_up_page_until_enrolled(
    engine: AsyncEngine,
) -> None:
    server, site = await make_site(engine, required_for=frozenset({"admin"}))
    try:
        async with browser() as http:
            status, _ = await password(http, site.url, "ada")
            assert status == 303
            async with http.get(site.url, allow_redirects=False) as response:
                assert response.status == 303  # not her page: sent to set up first
                assert response.headers["Location"] == "/account/two-factor"
            async with http.get(site.url + "admin/users", allow_redirects=False) as response:
                assert response.headers["Location"] == "/account/two-factor"
            async with http.get(site.url + "account/two-factor") as response:
                page = await response.text()
                assert "Your role signs in with a code" in page
            await enrol(site, http)
            async with http.get(site.url + "admin/users") as response:
                assert response.status == 200
                page = await response.text()
            # ... and it cannot be turned off for that role.
            assert 'id="two-factor-off"' not in (
                await (await http.get(site.url + "account/two-factor")).text()
            )
        async with browser() as http:  # a supervisor is not required to
            await password(http, site.url, "sam")
            async with http.get(site.url + "admin/users", allow_redirects=False) as response:
                assert response.status == 403
    finally:
        await server.close()


async def test_an_admin_resets_a_users_two_factor_sign_in_audited(
    site: Site, engine: AsyncEngine
) -> None:
    async with browser() as sam:
        await password(sam, site.url, "sam")
        await enrol(site, sam)
        async with browser() as ada:
            _, page = await password(ada, site.url, "ada")
            async with ada.get(site.url + "admin/users") as response:
                page = await response.text()
            assert 'action="/admin/users/two-factor-reset"' in page
            form = {"user": "sam", "csrf": field(page, "csrf")}
            async with ada.post(site.url + "admin/users/two-factor-reset", data=form) as response:
                assert response.status == 200
        # sam's open session ended with the reset
        async with sam.get(site.url + "account/two-factor", allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"].startswith("/login")
    assert not (await site.auth.users.two_factor.status("sam")).enabled
    async with engine.connect() as db:
        secret = await db.scalar(select(WebUserRow.totp_secret).where(WebUserRow.name == "sam"))
        codes = await db.scalar(select(func.count()).select_from(RecoveryCodeRow))
    assert secret is None
    assert codes == 0
    entries = await AuditLog(engine).recent(target="user:sam")
    assert [(e.actor, e.action) for e in entries] == [("ada", "2fa-reset")]
    async with browser() as http:  # signs in with the password alone again
        status, _ = await password(http, site.url, "sam")
        assert status == 303
        assert signed_in(http)


def test_the_cli_resets_and_removal_erases_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    (config / "hotline.yaml").write_text(f"database:\n  url: {url}\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["user", "add", "ada", "--role", "admin", "--config", str(config)]) == 0
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    key = base64.b32decode(secret)

    async def on_store(work: str) -> object:
        store = create_engine(url)
        try:
            two_factor = UserStore(store).two_factor
            if work == "enrol":
                return await two_factor.enrol("ada", secret, totp(key, time.time()))
            if work == "enabled":
                return (await two_factor.status("ada")).enabled
            if work == "audit":
                return [(e.actor, e.action) for e in await AuditLog(store).recent()]
            async with store.connect() as db:
                users = await db.scalar(select(func.count()).select_from(WebUserRow))
                codes = await db.scalar(select(func.count()).select_from(RecoveryCodeRow))
                return users, codes
        finally:
            await store.dispose()

    assert asyncio.run(on_store("enrol")) is not None
    assert main(["user", "list", "--config", str(config)]) == 0
    assert "ada\tadmin 2fa" in capsys.readouterr().out
    assert main(["user", "reset-2fa", "ada", "--config", str(config)]) == 0
    assert asyncio.run(on_store("enabled")) is False
    assert main(["user", "reset-2fa", "ada", "--config", str(config)]) == 1
    audit = asyncio.run(on_store("audit"))
    assert isinstance(audit, list)
    assert audit[0][0].startswith("cli")
    assert audit[0][1] == "2fa-reset"
    assert asyncio.run(on_store("enrol")) is not None
    assert asyncio.run(on_store("counts")) == (1, 10)
    assert main(["user", "remove", "ada", "--config", str(config)]) == 0
    assert asyncio.run(on_store("counts")) == (0, 0)
