"""Issue 16's low findings on the web pages, against the running service: bad requests are
the client's 400 (not a dropped connection, not a 500), and /readyz tells why it is not
ready only to signed-in staff."""

from __future__ import annotations

import asyncio
import re

import aiohttp

from tests.web.support import PASSWORD
from tests.web_admin.conftest import Admin


async def csrf_of(admin: Admin, user: str) -> str:
    _, page = await admin.get("/supervisor", as_user=user)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert found
    return found[1]


async def raw_request(admin: Admin, request: bytes) -> bytes:
    """The server's whole answer to one raw request (empty: the connection was dropped)."""
    host, port = admin.url.removeprefix("http://").rstrip("/").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        async with asyncio.timeout(10):
            return await reader.read()
    finally:
        writer.close()


async def test_a_line_break_in_next_is_a_400_not_a_dropped_connection(admin: Admin) -> None:
    answer = await raw_request(
        admin,
        b"GET /language/ar?next=/supervisor%0d%0aSet-Cookie:%20x=1 HTTP/1.1\r\n"
        b"Host: hotline\r\nConnection: close\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"Set-Cookie: x=1" not in answer


async def test_a_line_break_in_the_sign_in_forms_next_is_a_400(admin: Admin) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(admin.url + "login") as page:
            token = page.cookies["hotline_login_csrf"].value
        form = {"name": "ada", "password": PASSWORD, "csrf": token, "next": "/a\r\nX-Evil: 1"}
        async with http.post(admin.url + "login", data=form, allow_redirects=False) as answer:
            assert answer.status == 400  # the redirect it asked for cannot be written


async def test_a_post_to_the_prompts_page_that_is_not_a_form_is_a_400(admin: Admin) -> None:
    csrf = await csrf_of(admin, "ada")
    async with admin.clients["ada"].post(
        admin.url + "admin/prompts",
        data=b'{"name": "x"}',
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf},
    ) as answer:
        assert answer.status == 400


async def test_a_bad_json_body_on_the_spy_action_is_a_400(admin: Admin) -> None:
    csrf = await csrf_of(admin, "sam")
    for body in (b"{not json", b"[1, 2]"):
        async with admin.clients["sam"].post(
            admin.url + "page-api/agents/1001/spy",
            data=body,
            headers={"Content-Type": "application/json", "X-CSRF-Token": csrf},
        ) as answer:
            assert answer.status == 400, body


async def test_readyz_tells_why_only_to_signed_in_staff(admin: Admin) -> None:
    port = str(admin.service.config.ami.port)
    async with aiohttp.ClientSession() as anyone, anyone.get(admin.url + "readyz") as answer:
        assert answer.status == 503
        body = await answer.json()
    assert body["checks"]["ami"] == "not ready"
    assert port not in str(body)
    async with admin.clients["ada"].get(admin.url + "readyz") as answer:
        told = await answer.json()
    assert port in told["checks"]["ami"]
    async with admin.clients["1001"].get(admin.url + "readyz") as answer:  # an agent: not
        assert (await answer.json())["checks"]["ami"] == "not ready"
