"""An agent who closes the browser mid-chat: back within ``desk_reconnect_grace_s`` they keep
everything; not back, their chats go back in line with their place kept and are offered to
another agent with their history, the customer is told they wait again, and the agent is
paused "disconnected", still logged in. A second page (or the agent page's own live feed)
still open keeps them at their desktop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from acd.agent_events import AgentState, Login
from acd.digital_tasks import DESKTOP_LOST, DISCONNECTED
from acd.events import CallOffered, CallRequeued, EventRecord
from acd.workload import TaskPhase
from history.identities import IdentityKind
from history.inputs import Channel, IdentityIn
from tests.e2e.stack import wait_until
from tests.web.chat_rig import Page, Rig, chat_rig


async def _talk(rig: Rig, visitor: str) -> int:
    found = await rig.store.find_open_conversation(
        Channel.CHAT, identity=IdentityIn(kind=IdentityKind.CHAT, value=visitor)
    )
    assert found is not None
    return found.id


async def _chat(rig: Rig, page: Page, text: str) -> int:
    """A visitor on ``page`` says ``text``; their conversation."""
    visitor = (await page.hello())["visitor"]
    await page.say("m1", text)
    return await _talk(rig, visitor)


def _held(rig: Rig, agent_id: str) -> dict[str, TaskPhase]:
    return {t.task_id: t.phase for t in rig.acd.distributor.tasks_of(agent_id)}


async def _gone_from_desktop(rig: Rig, agent_id: str) -> None:
    """Until the server has seen every page of the agent close."""
    await wait_until(lambda: not rig.presence.at_desktop(agent_id), timeout_s=5)


async def test_an_agent_back_within_the_grace_period_keeps_their_chats(tmp_path: Path) -> None:
    async with chat_rig(tmp_path, desk_reconnect_grace_s=2.0) as rig, rig.visitor() as page:
        rig.acd.agent_event(Login("ann"))
        async with rig.agent("ann") as ann:
            await ann.next("snapshot")
            talk = await _chat(rig, page, "my router blinks red")
            await ann.next("offered")
            assert (await ann.post(f"{talk}/accept"))[0] == 200
            await ann.next("accepted")
        held = _held(rig, "ann")
        await _gone_from_desktop(rig, "ann")
        async with rig.agent("ann") as back:  # a reload
            (card,) = (await back.next("snapshot"))["tasks"]
            assert (card["conversation"], card["phase"]) == (talk, "active")
            await asyncio.sleep(2.5)  # past the grace period of the first page's close
            assert _held(rig, "ann") == held == {f"chat-{talk}.1": TaskPhase.ACTIVE}
            assert rig.acd.distributor.book.view("ann").state is AgentState.AVAILABLE
            assert (await back.post(f"{talk}/messages", {"text": "Still here"}))[0] == 200
        assert rig.presence.lost == 0


async def test_an_agent_not_back_in_time_loses_their_chats_to_another_with_their_place(
    tmp_path: Path,
) -> None:
    records: list[EventRecord] = []
    async with chat_rig(tmp_path, desk_reconnect_grace_s=0.2) as rig:
        rig.acd.on_task(lambda record, _: records.append(record))
        rig.acd.agent_event(Login("ann"))
        async with rig.visitor() as first, rig.visitor() as second:
            async with rig.agent("ann") as ann:
                await ann.next("snapshot")
                talk = await _chat(rig, first, "my router blinks red")
                await ann.next("offered", lambda f: f["task"]["conversation"] == talk)
                assert (await ann.post(f"{talk}/accept"))[0] == 200
                await first.next("status", lambda f: f["state"] == "connected")
                said = {"text": "Unplug it for ten seconds", "ref": "r1"}
                assert (await ann.post(f"{talk}/messages", said))[0] == 200
                await first.next("message")
                other = await _chat(rig, second, "is my order shipped?")
                await ann.next("offered", lambda f: f["task"]["conversation"] == other)
            # Ann's browser is closed, with one chat open and one offered
            await wait_until(
                lambda: rig.acd.distributor.book.view("ann").state is AgentState.PAUSED
            )
            view = rig.acd.distributor.book.view("ann")
            assert view.pause_reason == DISCONNECTED  # not logged out
            assert _held(rig, "ann") == {}
            waiting = await first.next("status", lambda f: f["state"] == "waiting")
            assert waiting["position"] in (1, 2)  # the customer is told they wait again
            async with rig.agent("bob") as bob:
                await bob.next("snapshot")
                rig.acd.agent_event(Login("bob"))
                cards = {}
                for _ in range(2):
                    card = (await bob.next("offered"))["task"]
                    cards[card["conversation"]] = card
            assert set(cards) == {talk, other}
            # Bob sees the conversation as it was: the customer's words and Ann's reply
            assert [(m["from"], m["text"]) for m in cards[talk]["thread"]] == [
                ("customer", "my router blinks red"),
                ("agent", "Unplug it for ten seconds"),
            ]
    requeued = [r.event for r in records if isinstance(r.event, CallRequeued)]
    assert {(e.call_id, e.agent_id, e.reason) for e in requeued} == {
        (f"chat-{talk}.1", "ann", DESKTOP_LOST),
        (f"chat-{other}.1", "ann", DESKTOP_LOST),
    }
    offers = [n for n in rig.acd.recent_offers if n.call_id == f"chat-{talk}.1"]
    assert [n.agent_id for n in offers] == ["ann", "bob"]
    assert offers[0].entry_time == offers[1].entry_time  # its place in line kept
    to_bob = [r.event for r in records if isinstance(r.event, CallOffered)][-2:]
    assert {e.agent_id for e in to_bob} == {"bob"}
    assert rig.presence.lost == 1


async def test_an_agent_with_another_page_open_keeps_their_chats(tmp_path: Path) -> None:
    async with chat_rig(tmp_path, desk_reconnect_grace_s=0.2) as rig, rig.visitor() as page:
        rig.acd.agent_event(Login("ann"))
        async with rig.agent("ann") as ann:
            await ann.next("snapshot")
            talk = await _chat(rig, page, "hello")
            await ann.next("offered")
            assert (await ann.post(f"{talk}/accept"))[0] == 200
            async with rig.agent("ann") as second_tab:
                await second_tab.next("snapshot")
            await asyncio.sleep(0.5)  # one tab closed, past the grace period
            assert _held(rig, "ann") == {f"chat-{talk}.1": TaskPhase.ACTIVE}
            # the agent page's own live feed counts too: the desk's socket alone may go
            async with ann.http.ws_connect(
                ann.base + "ws/agent", headers={"Origin": rig.own_origin()}
            ) as feed:
                state: dict[str, Any] = await feed.receive_json(timeout=5)
                assert state["agent"]["agent_id"] == "ann"
                await ann.ws.close()
                await asyncio.sleep(0.5)
                assert _held(rig, "ann") == {f"chat-{talk}.1": TaskPhase.ACTIVE}
                assert rig.acd.distributor.book.view("ann").state is AgentState.AVAILABLE
        await wait_until(lambda: rig.acd.distributor.book.view("ann").state is AgentState.PAUSED)
        assert rig.desk.holder(talk) is None
