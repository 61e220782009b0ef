"""Signing in: hashed passwords, session cookies, CSRF, roles on every page, throttled login."""

from __future__ import annotations

import io
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from history.models import WebUserRow
from history.store import create_engine, migrate
from hotline.cli import main
from hotline.web.app import create_web_app
from hotline.web.auth.guard import WebAuth, page, requires
from hotline.web.auth.sessions import COOKIE, SessionStore
from hotline.web.auth.throttle import LoginThrottle
from hotline.web.auth.users import Role, UserError, UserStore
from hotline.web.server import WebServer
from hotline.web.templates import Safe
from tests.web.support import PASSWORD, signed_in

#: Still argon2id, with cheap parameters: the tests sign in dozens of times.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    store = create_engine(f"sqlite+aiosqlite:///{tmp_path}/web.db")
    await migrate(store)
    try:
        yield store
    finally:
        await store.dispose()


@requires(Role.SUPERVISOR, Role.ADMIN)
async def supervisors_only(request: web.Request) -> web.StreamResponse:
    return page(request, "Queues", Safe("<p>queues</p>"))


@requires(Role.AGENT)
async def agents_only(request: web.Request) -> web.StreamResponse:
    return page(request, "Agent", Safe("<p>calls</p>"))


@requires(Role.SUPERVISOR)
async def supervisor_post(request: web.Request) -> web.StreamResponse:
    return web.json_response({"ok": True})


class Site:
    def __init__(self, auth: WebAuth, url: str) -> None:
        self.auth = auth
        self.url = url


async def serve(engine: AsyncEngine, *, secure: bool = False) -> tuple[WebServer, WebAuth]:
    users = UserStore(engine, hasher=FAST_HASHER)
    for name, role in (("sam", Role.SUPERVISOR), ("1001", Role.AGENT), ("ada", Role.ADMIN)):
        await users.add(name, role, PASSWORD)
    auth = WebAuth(users, SessionStore(), LoginThrottle(per_address=20, per_user_address=3), secure)
    app = create_web_app(readiness={}, auth=auth)
    app.router.add_get("/supervisor", supervisors_only)
    app.router.add_post("/page-api/act", supervisor_post)
    app.router.add_get("/agent", agents_only)
    server = WebServer(app, host="127.0.0.1", port=0)
    await server.start()
    return server, auth


@pytest.fixture
async def site(engine: AsyncEngine) -> AsyncIterator[Site]:
    server, auth = await serve(engine)
    try:
        yield Site(auth, server.url)
    finally:
        await server.close()


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_passwords_are_stored_as_argon2_hashes_only(engine: AsyncEngine) -> None:
    users = UserStore(engine)
    await users.add("sam", Role.SUPERVISOR, PASSWORD)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(WebUserRow.password_hash))).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert await users.authenticate("sam", PASSWORD) is not None
    assert await users.authenticate("sam", PASSWORD + "x") is None
    assert await users.authenticate("nobody", PASSWORD) is None


async def test_short_passwords_and_taken_names_are_refused(engine: AsyncEngine) -> None:
    users = UserStore(engine)
    with pytest.raises(UserError, match="at least"):
        await users.add("sam", Role.SUPERVISOR, "short")
    await users.add("sam", Role.SUPERVISOR, PASSWORD)
    with pytest.raises(UserError, match="exists"):
        await users.add("sam", Role.ADMIN, PASSWORD)


async def test_a_supervisor_signs_in_and_reaches_the_supervisor_page(site: Site) -> None:
    async with browser() as http:
        await signed_in(http, site.url, "sam")
        async with http.get(site.url + "supervisor") as response:
            assert response.status == 200
            assert "<p>queues</p>" in await response.text()


async def test_the_session_cookie_is_httponly_and_samesite_strict(site: Site) -> None:
    async with browser() as http, http.get(site.url + "login") as response:
        token = response.cookies["hotline_login_csrf"].value
        form = {"name": "sam", "password": PASSWORD, "csrf": token}
        async with http.post(site.url + "login", data=form, allow_redirects=False) as signed:
            assert signed.status == 303
            assert signed.headers["Location"] == "/supervisor"
            cookie = signed.cookies[COOKIE]
            assert cookie["httponly"]
            assert cookie["samesite"] == "Strict"
            assert not cookie["secure"]


async def test_cookies_are_secure_when_served_over_https(engine: AsyncEngine) -> None:
    server, _ = await serve(engine, secure=True)
    try:
        async with browser() as http, http.get(server.url + "login") as response:
            assert response.cookies["hotline_login_csrf"]["secure"]
    finally:
        await server.close()


async def test_an_agent_is_refused_the_supervisor_page_with_a_403_page(site: Site) -> None:
    async with browser() as http:
        await signed_in(http, site.url, "1001")
        async with http.get(site.url + "supervisor") as response:
            assert response.status == 403
            assert "Not for your role" in await response.text()


async def test_no_session_gets_the_login_page(site: Site) -> None:
    async with browser() as http, http.get(site.url + "supervisor") as response:
        assert response.status == 200
        assert response.url.path == "/login"
        assert response.url.query["next"] == "/supervisor"
        assert 'id="login"' in await response.text()


async def test_an_expired_session_gets_the_login_page_not_a_stack_trace(site: Site) -> None:
    async with browser() as http:
        await signed_in(http, site.url, "sam")
        site.auth.sessions.expire_all()
        async with http.get(site.url + "supervisor") as response:
            assert response.url.path == "/login"
            assert 'id="login"' in await response.text()
        async with http.post(site.url + "page-api/act") as response:
            assert response.status == 401


async def test_a_post_without_the_csrf_token_is_refused(site: Site) -> None:
    async with browser() as http:
        csrf = await signed_in(http, site.url, "sam")
        async with http.post(site.url + "page-api/act") as response:
            assert response.status == 403
        async with http.post(site.url + "page-api/act", headers={"X-CSRF-Token": "x"}) as response:
            assert response.status == 403
        async with http.post(site.url + "page-api/act", headers={"X-CSRF-Token": csrf}) as ok:
            assert ok.status == 200


async def test_a_login_form_without_its_csrf_token_is_refused(site: Site) -> None:
    async with browser() as http:
        form = {"name": "sam", "password": PASSWORD, "csrf": "forged"}
        async with http.post(site.url + "login", data=form) as response:
            assert response.status == 403
            assert http.cookie_jar.filter_cookies(URL(site.url)).get(COOKIE) is None


async def test_logins_are_throttled_per_user_after_repeated_failures(site: Site) -> None:
    async with browser() as http:
        statuses = []
        for password in ["wrong password 1"] * 3 + [PASSWORD]:
            async with http.get(site.url + "login") as page:
                token = page.cookies["hotline_login_csrf"].value
            form = {"name": "sam", "password": password, "csrf": token}
            async with http.post(site.url + "login", data=form) as response:
                statuses.append(response.status)
                retry = response.headers.get("Retry-After")
        assert statuses == [401, 401, 401, 429]
        assert retry is not None
        assert int(retry) > 0


async def test_logins_are_throttled_per_address_across_names() -> None:
    throttle = LoginThrottle(per_address=3, per_user_address=100, window_s=60, clock=lambda: 0.0)
    for n in range(3):
        throttle.reserve("10.0.0.1", f"user{n}").failed()
    assert throttle.blocked("10.0.0.1", "someone") > 0
    assert throttle.blocked("10.0.0.2", "someone") == 0


async def test_sign_out_ends_the_session(site: Site) -> None:
    async with browser() as http:
        csrf = await signed_in(http, site.url, "sam")
        async with http.post(site.url + "logout", data={"csrf": csrf}) as response:
            assert response.url.path == "/login"
        async with http.get(site.url + "supervisor") as response:
            assert response.url.path == "/login"


async def test_the_login_page_never_redirects_off_site(site: Site) -> None:
    async with browser() as http, http.get(site.url + "login") as page:
        token = page.cookies["hotline_login_csrf"].value
        form = {"name": "sam", "password": PASSWORD, "csrf": token, "next": "//evil.example/"}
        async with http.post(site.url + "login", data=form, allow_redirects=False) as response:
            assert response.headers["Location"] == "/supervisor"


def test_user_add_reads_the_password_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "hotline.yaml").write_text(
        f"database:\n  url: sqlite+aiosqlite:///{tmp_path}/cli.db\n"
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["user", "add", "sam", "--role", "supervisor", "--config", str(config)]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["user", "add", "bob", "--role", "agent", "--config", str(config)]) == 1
    assert main(["user", "list", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "added sam (supervisor)" in out
    assert "sam\tsupervisor" in out
    assert PASSWORD not in out


async def test_an_admin_adds_a_user_through_the_users_page(site: Site) -> None:
    async with browser() as http:
        await signed_in(http, site.url, "ada")
        async with http.get(site.url + "admin/users") as page_:
            text = await page_.text()
            csrf = text[text.index('id="add-user"') :].split('name="csrf" value="')[1].split('"')[0]
        form = {"csrf": csrf, "name": "sue", "role": "supervisor", "password": PASSWORD}
        async with http.post(site.url + "admin/users", data=form) as response:
            assert response.status == 200
            assert 'data-user="sue"' in await response.text()
    assert await site.auth.users.authenticate("sue", PASSWORD) is not None


async def test_a_bad_user_form_says_why_beside_the_field_and_changes_nothing(site: Site) -> None:
    async with browser() as http:
        await signed_in(http, site.url, "ada")
        async with http.get(site.url + "admin/users") as page_:
            text = await page_.text()
            csrf = text[text.index('id="add-user"') :].split('name="csrf" value="')[1].split('"')[0]
        form = {"csrf": csrf, "name": "bad name", "role": "boss", "password": "short"}
        async with http.post(site.url + "admin/users", data=form) as response:
            assert response.status == 422
            text = await response.text()
    assert '<span class="error" id="name-error">1-64' in text
    assert 'id="role-error">agent, supervisor, admin or wallboard' in text
    assert 'id="password-error">the password needs' in text
    assert [u.name for u in await site.auth.users.list()] == ["1001", "ada", "sam"]


async def test_a_supervisor_is_refused_the_users_page(site: Site) -> None:
    async with browser() as http:
        await signed_in(http, site.url, "sam")
        async with http.get(site.url + "admin/users") as response:
            assert response.status == 403
