"""Probes: /healthz says the process is alive, /readyz says whether calls can be served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import aiohttp
import pytest

from hotline.web.app import create_web_app
from hotline.web.health import ReadinessCheck
from hotline.web.server import WebServer


class Probe:
    def __init__(self) -> None:
        self.reason: str | None = None

    def __call__(self) -> str | None:
        return self.reason


@pytest.fixture
def ami() -> Probe:
    return Probe()


@pytest.fixture
async def base_url(ami: Probe) -> AsyncIterator[str]:
    checks: Mapping[str, ReadinessCheck] = {"fastagi": lambda: None, "ami": ami}
    server = WebServer(create_web_app(readiness=checks), host="127.0.0.1", port=0)
    await server.start()
    try:
        yield server.url
    finally:
        await server.close()


async def get(url: str) -> tuple[int, dict[str, object]]:
    async with asyncio.timeout(5), aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.json()


async def test_healthz_answers_while_dependencies_are_down(base_url: str, ami: Probe) -> None:
    ami.reason = "not connected"
    status, body = await get(base_url + "healthz")
    assert (status, body) == (200, {"status": "ok"})


async def test_readyz_is_503_naming_what_is_down_but_not_why_to_anyone(
    base_url: str, ami: Probe
) -> None:
    ami.reason = "not connected to Asterisk manager at 127.0.0.1:5038"
    status, body = await get(base_url + "readyz")
    assert status == 503
    # The reason describes the network behind the service: signed-in staff only (issue 16).
    assert body == {"status": "not ready", "checks": {"fastagi": "ok", "ami": "not ready"}}


async def test_readyz_is_200_when_every_dependency_is_up(base_url: str) -> None:
    status, body = await get(base_url + "readyz")
    assert (status, body["status"]) == (200, "ready")


async def test_server_reports_the_bound_port_when_asked_for_port_zero() -> None:
    server = WebServer(create_web_app(readiness={}), host="127.0.0.1", port=0)
    await server.start()
    try:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}/"
    finally:
        await server.close()
