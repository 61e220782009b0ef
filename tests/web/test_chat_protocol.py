"""The web chat's WebSocket, as a visitor's page speaks it: a message is stored before it
is acknowledged and routed as a task; a page that reconnects gets what it missed and a
resent message is kept once; floods, oversized and malformed frames get a clear error (the
connection kept or closed by severity); only allowed sites may open it; a visitor who
leaves, or does not come back in time, ends the chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from acd.agent_events import Login
from history.identities import IdentityKind
from history.inputs import Channel, Delivery, IdentityIn, Status
from tests.e2e.stack import wait_until
from tests.web.chat_rig import SHOP, Rig, chat_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with chat_rig(tmp_path) as made:
        yield made


async def test_a_visitor_gets_an_id_and_a_message_is_stored_acknowledged_and_queued(
    rig: Rig,
) -> None:
    async with rig.visitor() as page:
        welcome = await page.hello(name="Nadia", email="nadia@example.com")
        visitor = welcome["visitor"]
        assert len(visitor) >= 22
        assert welcome["conversation"] is None  # nothing said yet
        ack = await page.say("m1", "my internet is down")
        said = ack["message"]
        assert (said["from"], said["text"], said["ref"], said["name"]) == (
            "customer",
            "my internet is down",
            "m1",
            "Nadia",
        )
        status = await page.next("status")
        assert (status["state"], status["position"]) == ("waiting", 1)  # nobody logged in
    talk = await rig.store.find_open_conversation(
        Channel.CHAT, identity=IdentityIn(kind=IdentityKind.CHAT, value=visitor)
    )
    assert talk is not None
    assert rig.desk.task_of(talk.id) is not None  # queued in the ACD
    customer = await rig.store.repository.get_customer(talk.customer_id or 0)
    assert customer.name == "Nadia"
    assert customer.custom_fields["chat_email"] == "nadia@example.com"  # unverified: a field


async def test_a_message_resent_after_a_reconnect_is_kept_once(rig: Rig) -> None:
    async with rig.visitor() as page:
        visitor = (await page.hello())["visitor"]
        first = (await page.say("m1", "hello?"))["message"]
    talk = await _talk(rig, visitor)
    async with rig.visitor() as again:
        await again.hello(visitor, last=0)
        replayed = await again.next("replay")
        assert [m["id"] for m in replayed["messages"]] == [first["id"]]
        resent = (await again.say("m1", "hello?"))["message"]  # its ack was lost, say
        assert resent["id"] == first["id"]
        await again.say("m2", "anyone?")
    thread = await rig.store.thread(talk)
    assert [m.body for m in thread.messages] == ["hello?", "anyone?"]
    assert rig.desk.task_of(talk) == f"chat-{talk}.1"  # routed once


async def test_a_message_sent_as_the_page_went_away_is_kept_once_when_a_reload_resends_it(
    rig: Rig,
) -> None:
    """The widget keeps what the server has not acknowledged (in the tab's sessionStorage)
    and resends it with its id after a reload; whether or not the first send was stored,
    the thread has it once, and the page learns its stored id."""
    async with rig.visitor() as page:
        visitor = (await page.hello())["visitor"]
        await page.say("m1", "hello?")
        await page.ws.send_json({"type": "message", "id": "m2", "text": "my line is dead"})
        # the page reloads before the ack of m2 arrives
    talk = await _talk(rig, visitor)
    async with rig.visitor() as reloaded:
        await reloaded.hello(visitor, last=0)
        replayed = (await reloaded.next("replay"))["messages"]
        assert replayed[0]["ref"] == "m1"
        resent = await reloaded.say("m2", "my line is dead")
        assert resent["type"] == "ack"
        again = await reloaded.say("m2", "my line is dead")  # a second reload, say
        assert again["message"]["id"] == resent["message"]["id"]
        typed_offline = await reloaded.say("m3", "are you there?")
        assert typed_offline["type"] == "ack"
    thread = await rig.store.thread(talk)
    assert [(m.body, m.external_id) for m in thread.messages] == [
        ("hello?", "m1"),
        ("my line is dead", "m2"),
        ("are you there?", "m3"),
    ]
    assert rig.desk.task_of(talk) == f"chat-{talk}.1"  # routed once


async def _talk(rig: Rig, visitor: str) -> int:
    found = await rig.store.find_open_conversation(
        Channel.CHAT, identity=IdentityIn(kind=IdentityKind.CHAT, value=visitor)
    )
    assert found is not None
    return found.id


async def test_a_page_that_reconnects_gets_what_the_agent_said_meanwhile(rig: Rig) -> None:
    rig.acd.agent_event(Login("ann"))
    async with rig.visitor() as page:
        visitor = (await page.hello())["visitor"]
        first = (await page.say("m1", "is my order shipped?"))["message"]
        talk = await _talk(rig, visitor)
        await rig.desk.accept("ann", talk)
        connected = await page.next("status", lambda f: f["state"] == "connected")
        assert connected["agent"] == "Ann"  # by name, never by id
    # the page is gone (a train tunnel); the agent goes on writing
    one = await rig.desk.agent_wrote("ann", talk, "Let me look")
    two = await rig.desk.agent_wrote("ann", talk, "It left yesterday")
    assert (one.delivery, two.delivery) == (Delivery.SENT, Delivery.SENT)  # kept for the page
    async with rig.visitor() as back:
        welcome = await back.hello(visitor, last=first["id"])
        assert welcome["conversation"] == talk
        replayed = (await back.next("replay"))["messages"]
        assert [(m["from"], m["text"], m["name"]) for m in replayed] == [
            ("agent", "Let me look", "Ann"),
            ("agent", "It left yesterday", "Ann"),
        ]
        await back.ws.send_json({"type": "receipt", "state": "read", "ids": [one.id, two.id]})
        await _delivered(rig, talk, two.id, Delivery.READ)
    async with rig.visitor() as reloaded:  # a reload: the page has nothing, gets everything
        await reloaded.hello(visitor)
        whole = (await reloaded.next("replay"))["messages"]
        assert [m["text"] for m in whole] == [
            "is my order shipped?",
            "Let me look",
            "It left yesterday",
        ]
        assert whole[2]["delivery"] == "read"


async def _delivered(rig: Rig, talk: int, message_id: int, state: Delivery) -> None:
    async with asyncio.timeout(5):
        while (await rig.store.get_message(talk, message_id)).delivery is not state:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_messages_over_the_rate_limit_are_refused_and_the_page_stays(
    tmp_path: Path,
) -> None:
    async with (
        chat_rig(tmp_path, rate_limit={"burst": 3, "messages_per_minute": 1}) as rig,
        rig.visitor() as page,
    ):
        visitor = (await page.hello())["visitor"]
        for n in range(3):
            assert (await page.say(f"m{n}", f"message {n}"))["type"] == "ack"
        refused = await page.say("m3", "one too many")
        assert (refused["type"], refused["code"]) == ("error", "rate_limited")
        assert "wait" in refused["detail"]
        await page.ws.send_json({"type": "typing", "on": True})  # still connected
        assert not page.ws.closed
        thread = await rig.store.thread(await _talk(rig, visitor))
        assert len(thread.messages) == 3


async def test_an_oversized_message_is_refused_and_an_oversized_frame_closes(
    tmp_path: Path,
) -> None:
    async with chat_rig(tmp_path, max_message_chars=100) as rig:
        async with rig.visitor() as page:
            await page.hello()
            refused = await page.say("m1", "x" * 101)
            assert (refused["code"], refused["ref"]) == ("too_long", "m1")
            assert (await page.say("m2", "x" * 100))["type"] == "ack"  # connection kept
        async with rig.visitor() as page:
            await page.hello()
            await page.ws.send_str('{"type":"message","id":"m3","text":"' + "y" * 5000 + '"}')
            assert await page.closed() == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


async def test_malformed_frames_get_an_error_and_a_foreign_client_is_closed(rig: Rig) -> None:
    async with rig.visitor() as page:
        await page.ws.send_str('{"type":"message","id":"m1","text":"hi"}')  # no hello
        error = await page.next("error")
        assert error["code"] == "hello_first"
        assert await page.closed() == aiohttp.WSCloseCode.POLICY_VIOLATION
    async with rig.visitor() as page:
        await page.hello()
        for bad, code in (
            ("not json", "malformed"),
            ("[1, 2]", "malformed"),
            ('{"type": "dance"}', "unknown_type"),
            ('{"type": "message", "id": "has space", "text": "hi"}', "malformed"),
            ('{"type": "message", "id": "m1", "text": 42}', "malformed"),
            ('{"type": "message", "id": "m1", "text": "   "}', "empty"),
            ('{"type": "typing", "on": "yes"}', "malformed"),
            ('{"type": "receipt", "state": "eaten", "ids": [1]}', "malformed"),
            ('{"type": "hello", "visitor": null}', "malformed"),  # once only
        ):
            await page.ws.send_str(bad)
            assert (await page.next("error"))["code"] == code, bad
        assert (await page.say("ok", "still here"))["type"] == "ack"
    async with rig.visitor() as page:
        await page.hello()
        await page.ws.send_bytes(b"\x00\x01")
        assert (await page.next("error"))["code"] == "malformed"
        assert await page.closed() == aiohttp.WSCloseCode.UNSUPPORTED_DATA


async def test_a_bad_hello_is_explained_and_a_made_up_visitor_id_is_replaced(rig: Rig) -> None:
    async with rig.visitor() as page:
        await page.ws.send_json({"type": "hello", "email": "not an address"})
        assert (await page.next("error"))["code"] == "malformed"
        welcome = await page.hello("short")  # not one of ours: a new id
        assert welcome["visitor"] != "short"


async def test_html_in_a_message_is_kept_and_sent_back_as_text(rig: Rig) -> None:
    rig.acd.agent_event(Login("ann"))
    async with rig.visitor() as page:
        visitor = (await page.hello())["visitor"]
        script = '<script>alert("hi")</script><b>bold</b>'
        assert (await page.say("m1", script))["message"]["text"] == script
        talk = await _talk(rig, visitor)
        await rig.desk.accept("ann", talk)
        await rig.desk.agent_wrote("ann", talk, "<img src=x onerror=alert(1)>")
        said = await page.next("message")
        assert said["message"]["text"] == "<img src=x onerror=alert(1)>"


async def test_only_this_site_and_the_allowed_ones_may_open_the_chat(rig: Rig) -> None:
    for origin in ("https://evil.example", "https://shop.example.com.evil.example", "null"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with rig.visitor(origin):
                pass
        assert refused.value.status == 403, origin
    with pytest.raises(aiohttp.WSServerHandshakeError):
        async with rig.client.ws_connect("/chat/ws"):  # no Origin at all
            pass
    async with rig.visitor(SHOP) as page:  # the business's site, from the config
        await page.hello()
    async with rig.visitor("https://SHOP.example.com:443") as page:  # the same origin
        await page.hello()


async def test_the_widget_may_be_framed_only_by_allowed_sites(rig: Rig) -> None:
    async with rig.client.get("/chat/widget?lang=ar") as response:
        assert response.status == 200
        policy = response.headers["Content-Security-Policy"]
        assert f"frame-ancestors 'self' {SHOP}" in policy
        assert "X-Frame-Options" not in response.headers
        page = await response.text()
        assert 'dir="rtl"' in page
        assert "تحدث معنا" in page
    async with rig.client.get("/chat/loader.js") as response:
        assert response.status == 200
        assert response.content_type == "application/javascript"
    rig.hub.settings = rig.hub.settings.model_copy(update={"enabled": False})
    async with rig.client.get("/chat/widget") as response:
        assert response.status == 404


async def test_a_visitor_who_leaves_a_waiting_chat_abandons_it(rig: Rig) -> None:
    async with rig.visitor() as page:
        visitor = (await page.hello())["visitor"]
        await page.say("m1", "hello")
        talk = await _talk(rig, visitor)
        await page.ws.send_json({"type": "leave"})
        assert (await page.next("status", lambda f: f["state"] == "left"))["state"] == "left"
        assert rig.desk.task_of(talk) is None
        await rig.desk.flush()
        ended = await rig.store.repository.get_interaction(talk)
        assert ended.outcome == "abandoned_queue"
        assert ended.ended_at is not None
        again = (await page.say("m2", "one more thing"))["message"]  # a new chat
    assert (await rig.store.get_message(await _talk(rig, visitor), again["id"])).body


async def test_a_visitor_who_leaves_an_accepted_chat_ends_it_for_the_agent(rig: Rig) -> None:
    rig.acd.agent_event(Login("ann"))
    async with rig.agent("ann") as ann, rig.visitor() as page:
        await ann.next("snapshot")
        visitor = (await page.hello())["visitor"]
        await page.say("m1", "hello")
        talk = await _talk(rig, visitor)
        await ann.next("offered")
        await rig.desk.accept("ann", talk)
        await page.next("status", lambda f: f["state"] == "connected")
        await page.ws.send_json({"type": "leave"})
        ended = await ann.next("ended")
        assert (ended["conversation"], ended["reason"]) == (talk, "customer left")
        await rig.desk.flush()
        interaction = await rig.store.repository.get_interaction(talk)
        assert (interaction.outcome, interaction.agent) == ("answered", "ann")
        assert interaction.ended_at is not None
        # the agent still says how it stands
        status, _ = await ann.post(f"{talk}/close", {"status": "postponed"})
        assert status == 200
        assert (await rig.store.repository.get_interaction(talk)).status == "postponed"


async def test_a_visitor_not_back_within_the_grace_period_has_left(tmp_path: Path) -> None:
    async with chat_rig(tmp_path, reconnect_grace_s=0.3) as rig:
        async with rig.visitor() as page:
            visitor = (await page.hello())["visitor"]
            await page.say("m1", "hello")
        talk = await _talk(rig, visitor)
        # back in time: the chat goes on
        async with rig.visitor() as page:
            await page.hello(visitor)
            await asyncio.sleep(0.5)
            assert rig.desk.task_of(talk) is not None
        await wait_until(lambda: rig.desk.task_of(talk) is None)  # not back: abandoned
        await rig.desk.flush()
        assert (await rig.store.repository.get_interaction(talk)).outcome == "abandoned_queue"


async def test_typing_goes_both_ways_and_is_not_stored(rig: Rig) -> None:
    rig.acd.agent_event(Login("ann"))
    async with rig.agent("ann") as ann, rig.visitor() as page:
        await ann.next("snapshot")
        visitor = (await page.hello())["visitor"]
        await page.say("m1", "hello")
        talk = await _talk(rig, visitor)
        await ann.next("offered")
        await rig.desk.accept("ann", talk)
        await ann.next("accepted")
        await page.ws.send_json({"type": "typing", "on": True})
        typing = await ann.next("typing")
        assert (typing["conversation"], typing["on"]) == (talk, True)
        await ann.ws.send_json({"type": "typing", "conversation": talk, "on": True})
        assert (await page.next("typing"))["on"] is True
        thread = await rig.store.thread(talk)
        assert len(thread.messages) == 1


async def test_after_a_postponement_the_visitor_comes_back_to_the_same_conversation(
    rig: Rig,
) -> None:
    rig.acd.agent_event(Login("ann"))
    async with rig.visitor() as page:
        visitor = (await page.hello())["visitor"]
        await page.say("m1", "my router reboots every night")
        talk = await _talk(rig, visitor)
        await rig.desk.accept("ann", talk)
        await rig.desk.agent_wrote("ann", talk, "Tell me if it does it again tonight")
        rig.desk.finish("ann", talk, status=Status.POSTPONED)
        assert (await page.next("status", lambda f: f["state"] == "closed"))["state"]
    await rig.desk.flush()
    async with rig.visitor() as tomorrow:
        welcome = await tomorrow.hello(visitor)
        assert welcome["conversation"] == talk
        thread = (await tomorrow.next("replay"))["messages"]
        assert [m["from"] for m in thread] == ["customer", "agent"]
        again = (await tomorrow.say("m2", "it did it again"))["message"]
        assert (await rig.store.get_message(talk, again["id"])).conversation_id == talk
        assert rig.desk.task_of(talk) == f"chat-{talk}.2"  # queued again


async def test_after_a_resolved_chat_the_next_message_opens_a_new_conversation(
    rig: Rig,
) -> None:
    rig.acd.agent_event(Login("ann"))
    async with rig.visitor() as page:
        visitor = (await page.hello())["visitor"]
        await page.say("m1", "how do I pay by card?")
        talk = await _talk(rig, visitor)
        await rig.desk.accept("ann", talk)
        rig.desk.finish("ann", talk, status=Status.RESOLVED)
        await page.next("status", lambda f: f["state"] == "closed")
        await rig.desk.flush()
        later = (await page.say("m2", "another question"))["message"]
    assert (await _talk(rig, visitor)) != talk
    assert later["id"] not in [m.id for m in (await rig.store.thread(talk)).messages]
