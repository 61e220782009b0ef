"""The agent's page: its own state, the screen-pop of its call, and wrap-up to the history."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.agent_events import Pause
from history.access_log import AccessLog
from history.identities import IdentityKind
from history.inputs import Channel, IdentityIn, InteractionRef, NewCustomer, NewInteraction
from telephony.emulator import Caller
from tests.web.support import TO_AN_AGENT, Stack, running, signed_in

NUMBER = "+971501110042"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path, ring_s=0.5) as live:  # phones answer; calls talk long
        yield live


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def call_for_agent_1001(stack: Stack) -> str:
    """A known customer calls while only agent 1001 is ready; the call's id."""
    repository = stack.service.history
    customer = await repository.create_customer(
        NewCustomer(
            name="Jane Caller",
            tier="loyal",
            identities=(IdentityIn(kind=IdentityKind.PHONE, value=NUMBER),),
        )
    )
    await repository.append_interaction(
        NewInteraction(
            channel=Channel.CHAT,
            customer_id=customer.id,
            started_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
            intent="technical_fault",
            idempotency_key="chat-yesterday",
            source="chat",
        )
    )
    for other in ("1002", "1003", "1004"):
        stack.service.acd.agent_event(Pause(other, "test"))
    await stack.emulator.place_call(Caller(number=NUMBER, dtmf=TO_AN_AGENT, barge_in=False))
    async with asyncio.timeout(10):
        while stack.service.acd.distributor.book.view("1001").call_id is None:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    call_id = stack.service.acd.distributor.book.view("1001").call_id
    assert call_id is not None
    return call_id


async def test_the_agent_feed_shows_its_own_state_and_its_call(stack: Stack) -> None:
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "1001")
        async with http.ws_connect(stack.url + "ws/agent") as ws:
            first: dict[str, Any] = json.loads((await ws.receive(timeout=5)).data)
            assert first["agent"]["agent_id"] == "1001"
            async with http.post(
                stack.url + "page-api/agent/pause",
                json={"reason": "lunch"},
                headers={"X-CSRF-Token": csrf},
            ) as response:
                assert response.status == 200
            async with asyncio.timeout(5):
                while True:
                    seen = json.loads((await ws.receive()).data)
                    if seen["agent"]["pause_reason"] == "lunch":
                        break


async def test_the_screen_pop_shows_the_customer_ivr_findings_and_timeline(stack: Stack) -> None:
    call_id = await call_for_agent_1001(stack)
    async with jar() as http:
        await signed_in(http, stack.url, "1001")
        async with http.get(stack.url + f"page-api/agent/calls/{call_id}") as response:
            assert response.status == 200
            pop = await response.json()
    assert pop["ivr"]["language"] == "en"
    assert pop["customer"]["name"] == "Jane Caller"
    assert pop["customer"]["tier"] == "loyal"
    assert any(e["interaction"]["channel"] == "chat" for e in pop["timeline"])
    # the agent's read is in the customer's access log (written through the history writer)
    await stack.service.history_writer.drained()
    reads = await AccessLog(stack.service.store).query(customer_id=pop["customer"]["id"])
    assert [(r.actor, r.what) for r in reads] == [("1001", "screen-pop")]


async def test_another_agent_cannot_see_or_wrap_up_the_call(stack: Stack) -> None:
    call_id = await call_for_agent_1001(stack)
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "1002")
        async with http.get(stack.url + f"page-api/agent/calls/{call_id}") as response:
            assert response.status == 403
        async with http.post(
            stack.url + f"page-api/agent/calls/{call_id}/wrapup",
            json={"status": "resolved"},
            headers={"X-CSRF-Token": csrf},
        ) as response:
            assert response.status == 403


async def test_wrap_up_writes_disposition_status_and_note_to_the_history(stack: Stack) -> None:
    call_id = await call_for_agent_1001(stack)
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "1001")
        async with http.post(
            stack.url + f"page-api/agent/calls/{call_id}/wrapup",
            json={
                "disposition": "callback_promised",
                "status": "postponed",
                "note": "call back Tuesday",
            },
            headers={"X-CSRF-Token": csrf},
        ) as response:
            assert response.status == 200, await response.text()
        async with http.post(
            stack.url + f"page-api/agent/calls/{call_id}/wrapup",
            json={"status": "finished?"},
            headers={"X-CSRF-Token": csrf},
        ) as response:
            assert response.status == 422
    await stack.service.interactions.flush()
    await stack.service.history_writer.drained()
    ref = InteractionRef(source="hotline", idempotency_key=call_id)
    interaction = await stack.service.history.get_interaction(ref)
    assert interaction.disposition == "callback_promised"
    assert interaction.status == "postponed"
    assert interaction.customer_id is not None
    notes = await stack.service.history.timeline(interaction.customer_id)
    bodies = [n.body for e in notes.entries for n in e.notes]
    assert "call back Tuesday" in bodies
