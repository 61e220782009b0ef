"""Supervisors act on waiting calls from the page: raise a call's priority, move it to
another queue; the change arrives live; agents and bad bodies are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.agent_events import Pause
from acd.events import CallMoved, CallPriorityChanged, EventRecord
from telephony.emulator import Caller
from tests.web.support import TO_AN_AGENT, Stack, running, signed_in
from tests.web.test_supervisor import jar, next_snapshot, waiting_calls

RECORDS: dict[int, list[EventRecord]] = {}


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path) as live:
        # nobody takes the call: it stays waiting
        for view in live.service.acd.distributor.book.views():
            live.service.acd.agent_event(Pause(view.agent_id, "training"))
        seen: list[EventRecord] = []
        RECORDS[id(live)] = seen
        stop = live.service.acd_events.subscribe(seen.append)
        yield live
        stop()
        del RECORDS[id(live)]


def events(stack: Stack, kind: type) -> list[Any]:
    return [r.event for r in RECORDS[id(stack)] if isinstance(r.event, kind)]


async def post(
    http: aiohttp.ClientSession, url: str, csrf: str, body: object
) -> tuple[int, dict[str, Any] | str]:
    async with http.post(url, json=body, headers={"X-CSRF-Token": csrf}) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def a_waiting_call(stack: Stack, ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    await stack.emulator.place_call(
        Caller(number="+971501110042", dtmf=TO_AN_AGENT, barge_in=False)
    )
    seen = await next_snapshot(ws, waiting_calls)
    return waiting_calls(seen)[0]


def where(snapshot: dict[str, Any], call_id: str) -> tuple[str, float] | None:
    """The call's queue and its base priority (before aging: the call ages between two
    snapshots, by a few tenths on a loaded machine)."""
    for queue in snapshot["queues"]:
        for call in queue["calls"]:
            if call["call_id"] == call_id:
                return queue["name"], call["base_priority"]
    return None


async def test_a_supervisor_raises_a_calls_priority_and_moves_it_and_sees_both_live(
    stack: Stack,
) -> None:
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "sam")
        async with http.ws_connect(stack.url + "ws/supervisor") as ws:
            await next_snapshot(ws, lambda s: True)
            call = await a_waiting_call(stack, ws)
            call_id, before = call["call_id"], call["base_priority"]
            base = f"{stack.url}page-api/calls/{call_id}/"

            assert await post(http, base + "priority", csrf, {"by": 25}) == (200, {"ok": True})
            raised = await next_snapshot(
                ws, lambda s: (where(s, call_id) or ("", 0))[1] >= before + 25
            )
            queue, priority = where(raised, call_id) or ("", 0.0)
            assert queue == "support"
            assert priority == pytest.approx(before + 25, abs=0.1)

            assert await post(http, base + "move", csrf, {"queue": "billing"}) == (
                200,
                {"ok": True},
            )
            moved = await next_snapshot(ws, lambda s: (where(s, call_id) or ("",))[0] == "billing")
            assert where(moved, call_id) is not None
    [changed] = events(stack, CallPriorityChanged)
    assert (changed.by, changed.actor) == (25, "sam")
    [move] = events(stack, CallMoved)
    assert (move.from_queue, move.queue, move.actor) == ("support", "billing", "sam")
    assert stack.service.acd.call(call_id).queue == "billing"  # type: ignore[union-attr]


async def test_an_agent_may_not_raise_or_move_a_call(stack: Stack) -> None:
    async with jar() as http, jar() as agent_http:
        await signed_in(http, stack.url, "sam")
        async with http.ws_connect(stack.url + "ws/supervisor") as ws:
            await next_snapshot(ws, lambda s: True)
            call = await a_waiting_call(stack, ws)
        csrf = await signed_in(agent_http, stack.url, "1001")
        base = f"{stack.url}page-api/calls/{call['call_id']}/"
        assert (await post(agent_http, base + "priority", csrf, {"by": 5}))[0] == 403
        assert (await post(agent_http, base + "move", csrf, {"queue": "billing"}))[0] == 403
    assert events(stack, CallPriorityChanged) == []
    assert events(stack, CallMoved) == []


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("priority", {}),
        ("priority", {"by": 0}),
        ("priority", {"by": -5}),
        ("priority", {"by": "10"}),
        ("priority", {"by": True}),
        ("priority", {"by": 10**9}),
        ("priority", [10]),
        ("move", {}),
        ("move", {"queue": "nowhere"}),
        ("move", {"queue": 3}),
    ],
)
async def test_bad_bodies_are_refused_with_422_and_change_nothing(
    stack: Stack, action: str, body: object
) -> None:
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "ada")
        async with http.ws_connect(stack.url + "ws/supervisor") as ws:
            await next_snapshot(ws, lambda s: True)
            call = await a_waiting_call(stack, ws)
        url = f"{stack.url}page-api/calls/{call['call_id']}/{action}"
        status, _ = await post(http, url, csrf, body)
        assert status == 422
    assert events(stack, CallPriorityChanged) == []
    assert events(stack, CallMoved) == []


async def test_moving_a_call_to_its_own_queue_or_an_unknown_call_is_refused(stack: Stack) -> None:
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "sam")
        async with http.ws_connect(stack.url + "ws/supervisor") as ws:
            await next_snapshot(ws, lambda s: True)
            call = await a_waiting_call(stack, ws)
        url = f"{stack.url}page-api/calls/{call['call_id']}/move"
        status, body = await post(http, url, csrf, {"queue": "support"})
        assert status == 409
        assert "already waits in" in str(body)
        missing = f"{stack.url}page-api/calls/no-such-call/priority"
        assert (await post(http, missing, csrf, {"by": 5}))[0] == 404
