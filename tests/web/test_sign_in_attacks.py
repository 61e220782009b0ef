"""Attacks on the sign-in page (issue 16, findings 1 and 3), performed over real HTTP.

Guesses fired all at once are held to the throttle's limits (the attempt is counted before
the password is checked); a stranger's wrong tries lock a user out only from the stranger's
address; the table never forgets its blocks to make room; password checks run in a bounded
pool of their own, so a burst of them leaves the loop's default executor free.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine

from history.store import create_engine, migrate
from hotline.web.app import create_web_app
from hotline.web.auth.guard import WebAuth
from hotline.web.auth.sessions import SessionStore
from hotline.web.auth.throttle import LoginThrottle, Throttled
from hotline.web.auth.users import Role, UserStore
from hotline.web.connections import WebLimits
from hotline.web.server import WebServer
from hotline.workers import PoolBusy, WorkPool
from tests.web.support import PASSWORD


class CountingHasher(PasswordHasher):
    """Cheap argon2id that counts every password it checks (from any thread)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self._lock:
            self.verified = next(self._counter) + 1
        return super().verify(hash, password)


class Site:
    def __init__(self, server: WebServer, auth: WebAuth, hasher: CountingHasher) -> None:
        self.server, self.auth, self.hasher = server, auth, hasher

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    store = create_engine(f"sqlite+aiosqlite:///{tmp_path}/web.db")
    await migrate(store)
    try:
        yield store
    finally:
        await store.dispose()


@pytest.fixture
async def site(engine: AsyncEngine) -> AsyncIterator[Site]:
    hasher = CountingHasher()
    users = UserStore(engine, hasher=hasher, hashing=WorkPool("test-hash", max_waiting=500))
    for name, role in (("sam", Role.SUPERVISOR), ("ada", Role.ADMIN)):
        await users.add(name, role, PASSWORD)
    hasher.verified = 0
    hasher._counter = itertools.count()
    auth = WebAuth(users, SessionStore(), LoginThrottle(per_user_address=5, per_address=10))
    # Every guess reaches the sign-in (the web port's own caps would refuse half at once).
    wide = WebLimits(max_connections=1000, max_connections_per_address=1000)
    app = create_web_app(readiness={}, auth=auth)
    server = WebServer(app, host="127.0.0.1", port=0, limits=wide)
    await server.start()
    try:
        yield Site(server, auth, hasher)
    finally:
        await server.close()


def client(address: str = "127.0.0.1", *, keeps_cookies: bool = True) -> aiohttp.ClientSession:
    """A browser on one loopback address (Linux answers on all of 127.0.0.0/8); an attacker
    script (``keeps_cookies=False``) sends the one login form token it fetched every time."""
    connector = aiohttp.TCPConnector(limit=0, local_addr=(address, 0))
    jar: aiohttp.abc.AbstractCookieJar = (
        aiohttp.CookieJar(unsafe=True) if keeps_cookies else aiohttp.DummyCookieJar()
    )
    return aiohttp.ClientSession(connector=connector, cookie_jar=jar)


async def csrf(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url + "login") as page:
        return page.cookies["hotline_login_csrf"].value


async def sign_in(http: aiohttp.ClientSession, url: str, token: str, name: str, pw: str) -> int:
    form = {"name": name, "password": pw, "csrf": token}
    cookie = {"Cookie": f"hotline_login_csrf={token}"}
    async with http.post(url + "login", data=form, headers=cookie, allow_redirects=False) as answer:
        await answer.read()
        return answer.status


async def test_200_simultaneous_guesses_for_one_user_check_at_most_the_limit(site: Site) -> None:
    async with asyncio.timeout(60), client(keeps_cookies=False) as http:
        token = await csrf(http, site.url)
        guesses = [sign_in(http, site.url, token, "sam", f"guess number {n}") for n in range(200)]
        statuses = await asyncio.gather(*guesses)
    assert site.hasher.verified <= 5
    assert statuses.count(401) == site.hasher.verified
    assert statuses.count(429) == 200 - site.hasher.verified


async def test_100_names_from_one_address_check_at_most_its_limit(site: Site) -> None:
    async with asyncio.timeout(60), client(keeps_cookies=False) as http:
        token = await csrf(http, site.url)
        guesses = [sign_in(http, site.url, token, f"user{n}", "guess password") for n in range(100)]
        statuses = await asyncio.gather(*guesses)
    assert site.hasher.verified <= 10
    assert statuses.count(429) >= 90


async def test_a_strangers_wrong_tries_do_not_lock_the_user_out_elsewhere(site: Site) -> None:
    async with (
        asyncio.timeout(30),
        client("127.0.0.2", keeps_cookies=False) as stranger,
        client("127.0.0.3") as ada,
    ):
        token = await csrf(stranger, site.url)
        tries = [
            await sign_in(stranger, site.url, token, "ada", "not her password") for _ in range(7)
        ]
        assert tries == [401] * 5 + [429] * 2
        # The right password from the stranger's address waits too ...
        assert await sign_in(stranger, site.url, token, "ada", PASSWORD) == 429
        # ... but ada, from her own address, signs in.
        assert await sign_in(ada, site.url, await csrf(ada, site.url), "ada", PASSWORD) == 303


async def test_an_admin_lifts_a_block_at_once(site: Site) -> None:
    async with (
        asyncio.timeout(30),
        client("127.0.0.2", keeps_cookies=False) as sam,
        client("127.0.0.3") as ada,
    ):
        token = await csrf(sam, site.url)
        for _ in range(5):
            await sign_in(sam, site.url, token, "sam", "a forgotten password")
        assert await sign_in(sam, site.url, token, "sam", PASSWORD) == 429
        assert await sign_in(ada, site.url, await csrf(ada, site.url), "ada", PASSWORD) == 303
        async with ada.get(site.url + "admin/users") as page:
            text = await page.text()
        assert 'data-block="sam"' in text
        session_csrf = text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        form = {"csrf": session_csrf, "user": "sam"}
        async with ada.post(site.url + "admin/users/unblock", data=form) as response:
            assert response.status == 200
            assert 'data-block="sam"' not in await response.text()
        assert await sign_in(sam, site.url, token, "sam", PASSWORD) == 303


def test_a_full_table_makes_room_without_dropping_its_blocks() -> None:
    now = [0.0]
    throttle = LoginThrottle(
        per_user_address=2, per_address=1000, max_keys=50, clock=lambda: now[0]
    )
    for _ in range(2):
        throttle.reserve("10.9.9.9", "admin").failed()
    assert throttle.blocked("10.9.9.9", "admin") > 0
    for n in range(500):  # a spray of names from many addresses fills the table many times
        now[0] += 0.01
        throttle.reserve(f"10.1.{n // 250}.{n % 250}", f"user{n}").failed()
    assert len(throttle) <= 50
    assert throttle.blocked("10.9.9.9", "admin") > 0
    with pytest.raises(Throttled):
        throttle.reserve("10.9.9.9", "admin")


def test_attempts_in_flight_count_until_they_end() -> None:
    throttle = LoginThrottle(per_user_address=2, per_address=10, clock=lambda: 0.0)
    first, second = throttle.reserve("10.0.0.1", "sam"), throttle.reserve("10.0.0.1", "sam")
    with pytest.raises(Throttled):
        throttle.reserve("10.0.0.1", "sam")
    with first:
        pass  # an error while checking: the reservation is given back, uncounted
    second.succeeded()
    assert throttle.blocked("10.0.0.1", "sam") == 0
    assert len(throttle) == 0


class BlockingHasher(PasswordHasher):
    """Holds every password check until the test lets go."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.release = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.release.wait(30)
        return super().verify(hash, password)


async def test_password_checks_wait_in_a_bounded_pool_of_their_own(engine: AsyncEngine) -> None:
    hasher = BlockingHasher()
    users = UserStore(
        engine, hasher=hasher, hashing=WorkPool("test-hash", workers=2, max_waiting=8)
    )
    await users.add("sam", Role.SUPERVISOR, PASSWORD)
    burst = [asyncio.create_task(users.authenticate("sam", f"guess {n}")) for n in range(10)]
    try:
        for _ in range(1000):  # each reads its user, then waits in the pool
            if users.hashing.jobs == 10:
                break
            await asyncio.sleep(0.01)
        assert users.hashing.jobs == 10
        with pytest.raises(PoolBusy):  # the eleventh waits nowhere: it is told to retry
            await users.authenticate("sam", "one more guess")
        # The loop's default executor (the history spool's, the config editor's) is free.
        loop = asyncio.get_running_loop()
        done: Any = await asyncio.wait_for(loop.run_in_executor(None, lambda: "written"), 10)
        assert done == "written"
        assert not any(task.done() for task in burst)
    finally:
        hasher.release.set()
    assert await asyncio.gather(*burst) == [None] * 10
