"""The supervisor page says "live" only when the service is in touch with Asterisk: AMI
logged in and FastAGI listening. Otherwise it says why, and the live figures are stale."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hotline.web.supervisor.telephony_link import LinkState, link_status
from telephony.emulator import Caller
from tests.web.support import TO_AN_AGENT, Stack, running, signed_in


def test_live_needs_both_ami_and_fastagi() -> None:
    def state(ami: bool, ever: bool, agi: bool) -> LinkState:
        return link_status(
            ami_connected=ami, ever_connected=ever, agi_listening=agi, last_event_age_s=None
        ).state

    assert state(True, True, True) is LinkState.LIVE
    assert state(False, True, True) is LinkState.ASTERISK_DOWN
    assert state(False, False, True) is LinkState.CONNECTING
    assert state(True, True, False) is LinkState.AGI_DOWN


def test_a_down_link_says_why_and_since_when() -> None:
    status = link_status(
        ami_connected=False,
        ever_connected=True,
        agi_listening=True,
        last_event_age_s=2541.0,
        ami_error="EOF",
        down_for_s=2540.0,
    )

    assert status.to_json() == {
        "state": "asterisk_down",
        "live": False,
        "ami": "disconnected",
        "fastagi": "listening",
        "last_event_age_s": 2541.0,
        "ami_error": "EOF",
        "down_for_s": 2540.0,
    }


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path) as live:
        yield live


async def snapshot_where(
    ws: aiohttp.ClientWebSocketResponse, want: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.TEXT, message
            snapshot: dict[str, Any] = json.loads(message.data)
            if want(snapshot):
                return snapshot


async def test_the_page_stops_saying_live_when_ami_drops_and_says_it_again_when_back(
    stack: Stack,
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await signed_in(http, stack.url, "sam")
        async with http.ws_connect(stack.url + "ws/supervisor") as ws:
            live = await snapshot_where(ws, lambda s: s["telephony"]["live"])
            assert (live["telephony"]["ami"], live["stale"]) == ("connected", False)
            assert live["telephony"]["fastagi"] == "listening"
            await stack.emulator.place_call(Caller(number="+971501110050", dtmf=TO_AN_AGENT))
            heard = await snapshot_where(
                ws, lambda s: s["telephony"]["last_event_age_s"] is not None
            )
            assert heard["telephony"]["last_event_age_s"] < 10  # the call's channel events

            await stack.emulator.ami.stop()  # Asterisk's manager goes away
            down = await snapshot_where(ws, lambda s: not s["telephony"]["live"])
            assert down["telephony"]["state"] == "asterisk_down"
            assert down["telephony"]["ami"] == "disconnected"
            assert down["stale"] is True

            await stack.emulator.ami.start()
            back = await snapshot_where(ws, lambda s: s["telephony"]["live"])
            assert back["stale"] is False
