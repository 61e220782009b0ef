"""The agent page's call control routes (hotline/web/agent/call_routes.py) on the shipped
service over the emulated Asterisk: an agent controls only their own call, a supervisor
may hang up any agent's call, and every POST needs the page's CSRF token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from acd.agent_events import Pause, Ready
from center.call_control import HOLD_SETTLE_S
from history.inputs import InteractionRef
from tests.web.support import Stack, running, signed_in
from tests.web.test_agent import call_for_agent_1001, jar


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path, ring_s=0.5) as live:  # phones answer; calls talk long
        yield live


async def post(
    http: Any, stack: Stack, path: str, csrf: str | None, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {} if csrf is None else {"X-CSRF-Token": csrf}
    async with http.post(stack.url + path, json=body or {}, headers=headers) as response:
        return response.status, await response.json()


async def on_call(stack: Stack, agent_id: str) -> None:
    async with asyncio.timeout(10):
        while stack.service.acd.distributor.book.view(agent_id).state.value != "on_call":  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_the_agent_mutes_and_transfers_their_own_call(stack: Stack) -> None:
    stack.service.acd.agent_event(Pause("1005", "test"))  # billing's agent: 1002, once made ready
    call_id = await call_for_agent_1001(stack)
    await on_call(stack, "1001")
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "1001")
        async with http.get(stack.url + "page-api/agent/call") as response:
            state = await response.json()
        assert state["call_id"] == call_id
        assert (state["muted"], state["on_hold"], state["transferring"]) == (False, False, None)
        assert "billing" in state["queues"]
        assert {a["agent_id"] for a in state["agents"]} == {"1002", "1003", "1004", "1005"}

        status, muted = await post(http, stack, "page-api/agent/call/mute", csrf, {"on": True})
        assert (status, muted["muted"]) == (200, True)
        leg = stack.emulator.pbx.find(stack.service.acd.distributor.book.view("1001").channel or "")
        assert leg is not None
        assert leg.muted == {"in"}

        status, refused = await post(
            http, stack, "page-api/agent/call/transfer", csrf, {"queue": "nowhere"}
        )
        assert (status, refused["error"]) == (409, "no queue 'nowhere'")
        status, _ = await post(
            http,
            stack,
            "page-api/agent/call/transfer",
            csrf,
            {"queue": "billing", "call_id": call_id},
        )
        assert status == 200
        async with asyncio.timeout(10):
            while stack.service.acd.distributor.book.view("1001").state.value == "on_call":  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        async with asyncio.timeout(10):
            while stack.service.acd.call(f"{call_id}-t1") is None:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        call = stack.service.acd.call(f"{call_id}-t1")
        assert call is not None
        assert call.queue == "billing"
        status, refused = await post(http, stack, "page-api/agent/call/hangup", csrf)
        assert (status, refused["error"]) == (409, "not on a call")
    # Bob takes the transferred call: his screen-pop and wrap-up are the call's interaction
    stack.service.acd.agent_event(Ready("1002"))
    await on_call(stack, "1002")
    assert stack.service.acd.distributor.book.view("1002").call_id == f"{call_id}-t1"
    await stack.service.interactions.flush()
    async with jar() as bob:
        csrf = await signed_in(bob, stack.url, "1002")
        async with bob.get(stack.url + f"page-api/agent/calls/{call_id}-t1") as response:
            popped = await response.json()
        assert popped["interaction"]["idempotency_key"] == call_id
        assert popped["interaction"]["agent"] == "1002"
        body = {"disposition": "information_given", "status": "resolved", "note": "refund sent"}
        status, _ = await post(bob, stack, f"page-api/agent/calls/{call_id}-t1/wrapup", csrf, body)
        assert status == 200
    await stack.service.history_writer.flush()
    found = await stack.service.history.get_interaction(
        InteractionRef(source="hotline", idempotency_key=call_id)
    )
    assert found.disposition == "information_given"


async def test_only_the_agent_on_the_call_or_a_supervisor_can_end_it(stack: Stack) -> None:
    await call_for_agent_1001(stack)
    await on_call(stack, "1001")
    async with jar() as other, jar() as supervisor:
        csrf = await signed_in(other, stack.url, "1002")
        status, refused = await post(other, stack, "page-api/agent/call/hangup", csrf)
        assert (status, refused["error"]) == (409, "not on a call")  # 1002's own: none
        status, _ = await post(other, stack, "page-api/agents/1001/hangup", csrf)
        assert status == 403  # an agent cannot end a colleague's call
        assert stack.service.acd.distributor.book.view("1001").state.value == "on_call"

        sam = await signed_in(supervisor, stack.url, "sam")
        status, _ = await post(supervisor, stack, "page-api/agents/1001/hangup", None)
        assert status == 403  # no CSRF token
        status, done = await post(supervisor, stack, "page-api/agents/1001/hangup", sam)
        assert (status, done) == (200, {"ok": True})
        async with asyncio.timeout(10):
            while stack.service.acd.distributor.book.view("1001").state.value == "on_call":  # noqa: ASYNC110
                await asyncio.sleep(0.02)


async def test_the_agent_consults_a_skilled_colleague_and_hands_them_the_call(stack: Stack) -> None:
    call_id = await call_for_agent_1001(stack)
    await on_call(stack, "1001")
    stack.service.acd.agent_event(Ready("1004"))  # free; 1002, 1003 stay paused
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "1001")
        async with http.get(stack.url + "page-api/agent/call") as response:
            state = await response.json()
        listed = [(c["agent_id"], c["available"]) for c in state["consult"]]
        assert listed[0] == ("1004", True)  # the one who is free comes first
        assert (state["consulting"], state["consult_phase"]) == (None, None)

        status, _ = await post(http, stack, "page-api/agent/call/consult", None, {"agent": "1004"})
        assert status == 403  # no CSRF token
        status, refused = await post(http, stack, "page-api/agent/call/complete", csrf)
        assert (status, refused["error"]) == (409, "no consult under way")
        status, consulting = await post(
            http, stack, "page-api/agent/call/consult", csrf, {"agent": "1004", "call_id": call_id}
        )
        assert (status, consulting["consulting"], consulting["consult_phase"]) == (
            200,
            "1004",
            "consulting",
        )
        assert stack.service.acd.distributor.book.view("1004").state.value == "paused"
        async with asyncio.timeout(10):
            while not any(  # noqa: ASYNC110
                name.startswith("PJSIP/agent1004-") and ch.up
                for name, ch in stack.emulator.pbx.channels.items()
            ):
                await asyncio.sleep(0.02)
        status, done = await post(http, stack, "page-api/agent/call/complete", csrf)
        assert (status, done["call_id"]) == (200, None)  # 1001 is no longer on the call
    view = stack.service.acd.distributor.book.view("1004")
    assert (view.state.value, view.call_id) == ("on_call", f"{call_id}-t1")


async def test_the_agent_holds_and_resumes_their_call_from_the_desktop(stack: Stack) -> None:
    call_id = await call_for_agent_1001(stack)
    await on_call(stack, "1001")
    stack.service.acd.agent_event(Ready("1004"))
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "1001")
        status, _ = await post(http, stack, "page-api/agent/call/hold", None)
        assert status == 403  # no CSRF token
        status, refused = await post(http, stack, "page-api/agent/call/resume", csrf)
        assert (status, refused["error"]) == (409, "the call is not on hold")
        status, held = await post(
            http, stack, "page-api/agent/call/hold", csrf, {"call_id": call_id}
        )
        assert (status, held["on_hold"], held["desk_hold"]) == (200, True, True)
        status, refused = await post(http, stack, "page-api/agent/call/hold", csrf)
        assert (status, refused["error"]) == (409, "the call is already on hold")
        status, refused = await post(
            http, stack, "page-api/agent/call/consult", csrf, {"agent": "1004"}
        )
        assert (status, refused["error"]) == (409, "the call is on hold: resume it first")
        async with http.get(stack.url + "page-api/agent/call") as response:
            state = await response.json()
        assert (state["on_hold"], state["desk_hold"], state["consulting"]) == (True, True, None)
        await asyncio.sleep(HOLD_SETTLE_S)
        status, resumed = await post(http, stack, "page-api/agent/call/resume", csrf)
        assert (status, resumed["desk_hold"]) == (200, False)
    assert stack.service.acd.distributor.book.view("1001").call_id == call_id  # no segment


async def test_with_consult_off_the_desktop_lists_nobody_and_a_consult_is_refused(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, ring_s=0.5, overrides={"waiting.consult": False}) as stack:
        await call_for_agent_1001(stack)
        await on_call(stack, "1001")
        stack.service.acd.agent_event(Ready("1004"))
        async with jar() as http:
            csrf = await signed_in(http, stack.url, "1001")
            async with http.get(stack.url + "page-api/agent/call") as response:
                state = await response.json()
            assert (state["consult_enabled"], state["consult"]) == (False, [])
            status, refused = await post(
                http, stack, "page-api/agent/call/consult", csrf, {"agent": "1004"}
            )
            held, refused_hold = await post(http, stack, "page-api/agent/call/hold", csrf)
    assert (status, refused["error"]) == (
        409,
        "consulting a colleague is off here (waiting.yaml consult)",
    )
    assert (held, refused_hold["error"]) == (
        409,
        "holding from the desktop is off here (it goes with waiting.yaml consult)",
    )
    assert stack.service.acd.distributor.book.view("1004").state.value == "available"
