"""The supervisor's live feed over the real service and an emulated Asterisk."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.agent_events import Pause
from hotline.web.tokens import TokenStore
from telephony.ami_codec import AmiMessage
from telephony.emulator import Caller
from tests.web.support import SUPERVISOR_PHONE, TO_AN_AGENT, Stack, running, signed_in


@pytest.fixture
async def stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with running(tmp_path) as live:
        yield live


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def next_snapshot(ws: aiohttp.ClientWebSocketResponse, want: Any) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.TEXT, message
            snapshot: dict[str, Any] = json.loads(message.data)
            if want(snapshot):
                return snapshot


def waiting_calls(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for q in snapshot["queues"] for c in q["calls"]]


def agent(snapshot: dict[str, Any], agent_id: str) -> dict[str, Any]:
    return next(a for a in snapshot["agents"] if a["agent_id"] == agent_id)


async def test_a_queued_call_is_pushed_to_the_supervisor_page(stack: Stack) -> None:
    async with jar() as http:
        await signed_in(http, stack.url, "sam")
        async with http.ws_connect(stack.url + "ws/supervisor") as ws:
            first = await next_snapshot(ws, lambda s: True)
            assert waiting_calls(first) == []
            assert all(a["state"] for a in first["agents"])
            await stack.emulator.place_call(
                Caller(number="+971501110009", dtmf=TO_AN_AGENT, barge_in=False)
            )
            seen = await next_snapshot(ws, lambda s: waiting_calls(s))
            call = waiting_calls(seen)[0]
            assert call["priority"] > 0
            assert call["wait_s"] >= 0


async def test_a_supervisor_pauses_an_agent_and_sees_the_state_change(stack: Stack) -> None:
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "sam")
        async with http.ws_connect(stack.url + "ws/supervisor") as ws:
            await next_snapshot(ws, lambda s: True)
            async with http.post(
                stack.url + "page-api/agents/1002/pause",
                json={"reason": "coaching"},
                headers={"X-CSRF-Token": csrf},
            ) as response:
                assert response.status == 200, await response.text()
                assert (await response.json())["pending"] is False  # idle: paused at once
            paused = await next_snapshot(ws, lambda s: agent(s, "1002")["pause_reason"])
            assert agent(paused, "1002")["pause_reason"] == "coaching"
            async with http.post(
                stack.url + "page-api/agents/1002/ready", headers={"X-CSRF-Token": csrf}
            ) as response:
                assert response.status == 200
            await next_snapshot(ws, lambda s: not agent(s, "1002")["pause_reason"])


async def test_an_agent_cannot_open_the_supervisor_feed_or_act(stack: Stack) -> None:
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "1001")
        async with http.get(stack.url + "ws/supervisor") as response:
            assert response.status == 403
        async with http.post(
            stack.url + "page-api/agents/1002/pause", headers={"X-CSRF-Token": csrf}
        ) as response:
            assert response.status == 403
    assert stack.service.acd.distributor.book.view("1002").pause_reason is None


async def test_a_page_that_does_not_read_is_dropped_without_slowing_the_service(
    stack: Stack,
) -> None:
    hub = stack.service.supervisor_hub
    slow = hub.connect()
    assert slow is not None
    for n in range(20):  # each pause/ready is an event; the slow page never reads
        stack.service.acd.agent_event(Pause("1003", f"r{n}"))
        await asyncio.sleep(0.15)
    assert slow.dropped.is_set()
    assert hub.dropped_clients >= 1


async def test_a_supervisor_whispers_to_an_agent_through_chanspy_on_their_own_phone(
    stack: Stack,
) -> None:
    answered: asyncio.Future[AmiMessage] = asyncio.get_running_loop().create_future()

    def seen(message: AmiMessage) -> None:
        if not answered.done():
            answered.set_result(message)

    stack.service.ami.on_event("OriginateResponse", seen)
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "sam")
        async with http.post(
            stack.url + "page-api/agents/1001/spy",
            json={"mode": "whisper"},
            headers={"X-CSRF-Token": csrf},
        ) as response:
            assert response.status == 200, await response.text()
        async with http.post(
            stack.url + "page-api/agents/1001/spy",
            json={"mode": "shout"},
            headers={"X-CSRF-Token": csrf},
        ) as response:
            assert response.status == 422
    async with asyncio.timeout(5):
        message = await answered
    assert message.get("Response") == "Success"
    assert (message.get("Channel") or "").startswith(SUPERVISOR_PHONE)
    assert message.get("Application") == "ChanSpy"
    assert message.get("Data") == "PJSIP/agent1001,qwE"


async def test_an_admin_without_a_phone_on_record_is_told_so(stack: Stack) -> None:
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "ada")
        async with http.post(
            stack.url + "page-api/agents/1001/spy",
            json={"mode": "listen"},
            headers={"X-CSRF-Token": csrf},
        ) as response:
            assert response.status == 409
            assert "phone" in (await response.json())["error"]


async def test_metrics_show_waiting_calls_agents_and_decisions_to_a_token_holder(
    stack: Stack,
) -> None:
    _, token = await TokenStore(stack.service.store).create("prometheus", ["events:read"])
    _, weak = await TokenStore(stack.service.store).create("reader", ["history:read"])
    await stack.emulator.place_call(
        Caller(number="+971501110010", dtmf=TO_AN_AGENT, barge_in=False)
    )
    hub = stack.service.supervisor_hub
    async with asyncio.timeout(10):
        while not hub.event_counts.get("CallOffered"):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    async with jar() as http:
        async with http.get(stack.url + "metrics") as response:
            assert response.status == 401
        bearer = {"Authorization": f"Bearer {weak}"}
        async with http.get(stack.url + "metrics", headers=bearer) as response:
            assert response.status == 401
        bearer = {"Authorization": f"Bearer {token}"}
        async with http.get(stack.url + "metrics", headers=bearer) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await response.text()
    assert 'hotline_calls_waiting{queue="support"} 1' in text
    assert "# TYPE hotline_routing_decisions_total counter" in text
    assert 'hotline_agents{state="' in text
    assert "hotline_service_level_ratio NaN" in text or "hotline_service_level_ratio " in text


async def test_an_agent_session_does_not_reach_the_metrics(stack: Stack) -> None:
    async with jar() as http:
        await signed_in(http, stack.url, "1001")
        async with http.get(stack.url + "metrics") as response:
            assert response.status == 401
        await signed_in(http, stack.url, "sam")
        async with http.get(stack.url + "metrics") as response:
            assert response.status == 200


async def test_a_websocket_from_another_site_is_refused(stack: Stack) -> None:
    async with jar() as http:
        await signed_in(http, stack.url, "sam")
        evil = {"Origin": "https://evil.example"}
        async with http.get(stack.url + "ws/supervisor", headers=evil) as response:
            assert response.status == 403
