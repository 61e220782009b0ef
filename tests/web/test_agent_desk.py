"""The agent page's chats and e-mails over ``/ws/agent/desk``: an offer comes with its
countdown and the customer's words, the agent accepts, replies and sees the delivery move
on, declines (the task goes to someone else) or closes; e-mails come the same way, with
their subject. An agent sees and acts on their own tasks only, with the page's session and
CSRF token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from acd.agent_events import Login
from acd.kpi import DIGITAL_WORK
from history.identities import IdentityKind
from history.inputs import Channel, IdentityIn, Status
from hotline.web import metrics
from tests.web.chat_rig import Page, Rig, chat_rig

RESERVATION_S = 30.0


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with chat_rig(tmp_path, reservation_timeout_s=RESERVATION_S) as made:
        yield made


async def _talk(rig: Rig, visitor: str) -> int:
    found = await rig.store.find_open_conversation(
        Channel.CHAT, identity=IdentityIn(kind=IdentityKind.CHAT, value=visitor)
    )
    assert found is not None
    return found.id


async def test_an_offer_is_accepted_answered_and_closed_as_resolved(rig: Rig) -> None:
    rig.acd.agent_event(Login("ann"))
    async with rig.agent("ann") as ann, rig.visitor() as page:
        assert (await ann.next("snapshot"))["tasks"] == []
        visitor = (await page.hello(name="Nadia"))["visitor"]
        await page.say("m1", "my router blinks red")
        talk = await _talk(rig, visitor)
        offer = (await ann.next("offered"))["task"]
        assert (offer["conversation"], offer["channel"], offer["phase"]) == (
            talk,
            "chat",
            "reserved",
        )
        assert 0 < offer["deadline_s"] <= RESERVATION_S
        assert offer["customer"]["name"] == "Nadia"
        assert [m["text"] for m in offer["thread"]] == ["my router blinks red"]

        assert (await ann.post(f"{talk}/accept"))[0] == 200
        accepted = (await ann.next("accepted"))["task"]
        assert accepted["phase"] == "active"
        await page.next("status", lambda f: f["state"] == "connected")

        status, answer = await ann.post(f"{talk}/messages", {"text": "Unplug it", "ref": "r1"})
        assert status == 200
        reply = answer["message"]
        assert (reply["from"], reply["text"]) == ("agent", "Unplug it")
        shown = (await page.next("message"))["message"]
        assert (shown["text"], shown["name"]) == ("Unplug it", "Ann")
        await page.ws.send_json({"type": "receipt", "state": "delivered", "ids": [shown["id"]]})
        ticks = await ann.next("delivery", lambda f: f["state"] == "delivered")
        assert (ticks["conversation"], ticks["id"]) == (talk, reply["id"])
        await page.ws.send_json({"type": "receipt", "state": "read", "ids": [shown["id"]]})
        await ann.next("delivery", lambda f: f["state"] == "read")

        # the agent read the customer's message: the customer's page says "seen"
        first = offer["thread"][0]["id"]
        await ann.ws.send_json({"type": "read", "conversation": talk, "ids": [first]})
        seen = await page.next("delivery")
        assert (seen["id"], seen["state"]) == (first, "read")

        assert (await ann.post(f"{talk}/close", {"status": "resolved"}))[0] == 200
        await ann.next("closed", lambda f: f["conversation"] == talk)
        await page.next("status", lambda f: f["state"] == "closed")
    await rig.desk.flush()
    interaction = await rig.store.repository.get_interaction(talk)
    assert (interaction.status, interaction.agent, interaction.outcome) == (
        Status.RESOLVED,
        "ann",
        "answered",
    )


async def test_a_declined_chat_goes_to_the_other_agent(rig: Rig) -> None:
    rig.acd.agent_event(Login("ann"))
    async with rig.agent("ann") as ann, rig.agent("bob") as bob, rig.visitor() as page:
        await ann.next("snapshot")
        await bob.next("snapshot")
        visitor = (await page.hello())["visitor"]
        await page.say("m1", "hello")
        talk = await _talk(rig, visitor)
        await ann.next("offered")
        rig.acd.agent_event(Login("bob"))
        assert (await ann.post(f"{talk}/decline"))[0] == 200
        gone = await ann.next("gone")
        assert (gone["conversation"], gone["reason"]) == (talk, "declined")
        assert (await bob.next("offered"))["task"]["conversation"] == talk


async def test_an_agent_sees_and_acts_on_their_own_tasks_only(rig: Rig) -> None:
    rig.acd.agent_event(Login("ann"))
    async with rig.agent("ann") as ann, rig.agent("bob") as bob, rig.visitor() as page:
        await ann.next("snapshot")
        await bob.next("snapshot")
        visitor = (await page.hello())["visitor"]
        await page.say("m1", "hello")
        talk = await _talk(rig, visitor)
        await ann.next("offered")
        assert (await bob.post(f"{talk}/accept"))[0] == 409
        assert (await bob.post(f"{talk}/decline"))[0] == 409
        assert (await ann.post(f"{talk}/accept"))[0] == 200
        assert (await bob.post(f"{talk}/messages", {"text": "hi"}))[0] == 409
        assert (await bob.post(f"{talk}/close", {"status": "resolved"}))[0] == 409
        await bob.ws.send_json({"type": "typing", "conversation": talk, "on": True})
        await bob.ws.send_json({"type": "read", "conversation": talk, "ids": [1]})
        await page.say("m2", "still there?")
        await ann.next("message", lambda f: f["message"]["text"] == "still there?")
        assert await bob.more() == []  # nothing of Ann's chat reaches Bob's page
        assert not [f for f in await page.more() if f["type"] in ("typing", "delivery")]
        # a later page of Ann's gets the conversation in its snapshot, with the thread
        async with rig.agent("ann") as again:
            (card,) = (await again.next("snapshot"))["tasks"]
            assert (card["conversation"], card["phase"]) == (talk, "active")
            assert [m["text"] for m in card["thread"]] == ["hello", "still there?"]


async def test_the_agents_state_counts_what_they_hold_on_every_channel(rig: Rig) -> None:
    """The agent page's feed (and the supervisor's agents table, and /metrics) say what the
    agent holds per channel, count them occupied as the KPIs do, and "busy" when they are
    at their capacity (chat 2, e-mail 1, 3 in all)."""
    rig.acd.agent_event(Login("ann"))
    async with (
        rig.agent("ann") as ann,
        ann.http.ws_connect(ann.base + "ws/agent", headers={"Origin": rig.own_origin()}) as feed,
        rig.visitor() as first,
        rig.visitor() as second,
    ):
        await ann.next("snapshot")

        async def row(**expected: object) -> dict[str, object]:
            async with asyncio.timeout(5):
                while True:
                    agent = (await feed.receive_json())["agent"]
                    if all(agent[k] == v for k, v in expected.items()):
                        return dict(agent)

        idle = await row(state="available")
        assert (idle["tasks"], idle["offered"], idle["busy"]) == ({}, 0, False)
        assert idle["activity"] == "available"
        talks = [await _chat(rig, page, f"hello {n}") for n, page in enumerate((first, second))]
        said = await rig.desk.customer_wrote(
            "email", "Invoice", identity=IdentityIn(kind=IdentityKind.EMAIL, value="o@e.com")
        )
        offered = await row(offered=3)  # offered, not in hand: idle time still
        assert (offered["tasks"], offered["busy"], offered["activity"]) == ({}, True, "available")
        for talk in talks[:1]:
            assert (await ann.post(f"{talk}/accept"))[0] == 200
        one = await row(offered=2)
        assert (one["tasks"], one["activity"]) == ({"chat": 1}, DIGITAL_WORK)
        for talk in (talks[1], said.conversation_id):
            assert (await ann.post(f"{talk}/accept"))[0] == 200
        full = await row(offered=0)
        assert (full["state"], full["tasks"], full["busy"]) == (
            "available",  # the phone is free...
            {"chat": 2, "email": 1},
            True,  # ... but nothing more can be offered: shown "busy · 2 chats · 1 e-mail"
        )
        assert (await ann.post(f"{talks[0]}/close", {"status": "resolved"}))[0] == 200
        room = await row(tasks={"chat": 1, "email": 1})
        assert room["busy"] is False
        text = metrics.render(rig.supervisors)  # the same rows, counted
        assert f'hotline_agents_by_activity{{activity="{DIGITAL_WORK}"}} 1' in text
        assert 'hotline_agent_tasks{channel="chat"} 1' in text
        assert 'hotline_agent_tasks{channel="email"} 1' in text
        assert "hotline_agents_full 0" in text


async def _chat(rig: Rig, page: Page, text: str) -> int:
    visitor = (await page.hello())["visitor"]
    await page.say("m1", text)
    return await _talk(rig, visitor)


async def test_an_email_comes_as_a_conversation_with_its_subject(rig: Rig) -> None:
    rig.acd.agent_event(Login("ann"))
    async with rig.agent("ann") as ann:
        await ann.next("snapshot")
        said = await rig.desk.customer_wrote(
            "email",
            "The invoice of May is twice the usual amount.",
            identity=IdentityIn(kind=IdentityKind.EMAIL, value="omar@example.com"),
            subject="Invoice 2291",
            author_name="Omar",
        )
        card = (await ann.next("offered"))["task"]
        assert (card["channel"], card["subject"]) == ("email", "Invoice 2291")
        assert card["customer"]["email"] == "omar@example.com"
        assert card["thread"][0]["subject"] == "Invoice 2291"
        assert (await ann.post(f"{said.conversation_id}/accept"))[0] == 200
        assert (await ann.next("accepted"))["task"]["channel"] == "email"


async def test_the_desk_needs_the_agents_session_and_csrf_token(rig: Rig) -> None:
    async with aiohttp.ClientSession() as anonymous:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with anonymous.ws_connect(rig.base + "ws/agent/desk"):
                pass
        assert refused.value.status == 401
    async with rig.agent("ann") as ann:
        async with ann.http.post(rig.base + "page-api/agent/conversations/1/accept") as response:
            assert response.status == 403  # no CSRF token
        with pytest.raises(aiohttp.WSServerHandshakeError) as cross:
            async with ann.http.ws_connect(
                rig.base + "ws/agent/desk", headers={"Origin": "https://evil.example"}
            ):
                pass
        assert cross.value.status == 403


async def test_the_customers_an_agents_desk_is_shown_are_in_the_access_log(rig: Rig) -> None:
    """The offer's card (who, the thread) is a read of the customer's data, and so is the
    accepted card and a page opened on it later: each is recorded with the agent."""
    rig.acd.agent_event(Login("ann"))
    async with rig.agent("ann") as ann, rig.visitor() as page:
        await ann.next("snapshot")
        await page.hello(name="Nadia")
        await page.say("m1", "my router blinks red")
        offer = (await ann.next("offered"))["task"]
        customer = offer["customer"]["id"]
        assert customer is not None
        assert (await ann.post(f"{offer['conversation']}/accept"))[0] == 200
        await ann.next("accepted")
        async with rig.agent("ann") as again:  # a second page: its snapshot shows it too
            await again.next("snapshot")
        await rig.access.flush()
        reads = await rig.access.log.query(customer_id=customer)
        assert [(r.actor, r.role, r.what, r.route) for r in reads] == [
            ("ann", "agent", "agent desk", "/ws/agent/desk")
        ] * 3
