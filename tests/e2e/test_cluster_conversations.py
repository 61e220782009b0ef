"""A chat across two hotline nodes sharing one ACD and one PostgreSQL history: the customer's
page is connected to node A, the agent's desktop to node B. The agent is offered the chat on
B, sees the customer's messages and typing live, answers; the customer sees the answer and
the agent's typing on A, and the close. An e-mail received on A is answered from B."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiosmtpd.smtp import SMTP
from sqlalchemy import make_url, text

from acd.agent_events import Pause
from acd.events import CallAbandoned, CallQueued
from history.identities import IdentityKind
from history.inputs import Channel, Delivery, IdentityIn, Status
from history.store import create_engine
from hotline.config_models import ClusterConfig
from tests.center.email.support import NADIA, SUPPORT, Relay, customer_mail, smtp_send
from tests.cluster.rig import REDIS, RedisServer
from tests.history.conftest import PG_URL
from tests.web.chat_rig import Page

from .stack import Stack, running_stack, wait_until
from .test_voicemail_tasks import add_agents, agent_page

KEYS = base64.urlsafe_b64encode(bytes(range(32))).decode()
AGENT = "1001"


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A database of its own on the machine's PostgreSQL (the nodes share it), dropped
    after."""
    name = f"hotline_cluster_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, connect_timeout_s=3).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    try:
        try:
            async with admin.connect() as connection:
                await connection.execute(text(f"CREATE DATABASE {name}"))
        except (OSError, TimeoutError) as error:
            pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {error}")
        try:
            yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        await admin.dispose()


def node(
    tmp_path: Path, name: str, redis_url: str, overrides: dict[str, object]
) -> AbstractAsyncContextManager[Stack]:
    directory = tmp_path / name
    directory.mkdir()
    # two whole services share this test's loop: a lease longer than its stalls under CI's
    # load (0.6 s flapped there); leaders changing is tests/cluster's subject
    shared = ClusterConfig(redis_url=redis_url, node_id=name, lease_s=2.0)
    return running_stack(
        directory,
        overrides=overrides,
        adjust=lambda config: config.model_copy(update={"cluster": shared}),
        system_name=f"pbx-{name}",
        environ={"HOTLINE_SECRET_KEYS": KEYS},
    )


@asynccontextmanager
async def two_nodes(tmp_path: Path, **overrides: object) -> AsyncIterator[tuple[Stack, Stack]]:
    """Nodes a and b on one Redis and one fresh PostgreSQL database, their ACD copies
    caught up, only ``AGENT`` ready (the others paused), a web user for them."""
    if REDIS is None:
        pytest.skip("redis-server is not installed: run scripts/system-deps.sh")
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        async with fresh_database() as database, AsyncExitStack() as nodes:
            settings = {"database.url": database, **overrides}
            a = await nodes.enter_async_context(node(tmp_path, "a", redis.url, settings))
            b = await nodes.enter_async_context(node(tmp_path, "b", redis.url, settings))
            assert a.service.node is not None
            assert b.service.node is not None
            shared_a, shared_b = a.service.node.cluster, b.service.node.cluster
            await add_agents(a.service, AGENT)
            for view in a.service.acd.distributor.book.views():
                if view.agent_id != AGENT:
                    a.service.acd.agent_event(Pause(view.agent_id, "meeting"))
            await wait_until(lambda: shared_a.caught_up and shared_b.caught_up)
            await wait_until(lambda: shared_a.position == shared_b.position)
            yield a, b
    finally:
        redis.stop()


@asynccontextmanager
async def visitor_page(stack: Stack) -> AsyncIterator[Page]:
    base = stack.service.web.url
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(base + "chat/ws", headers={"Origin": base.rstrip("/")}) as ws,
    ):
        yield Page(ws)


async def conversation_of(stack: Stack, visitor: str) -> int:
    found = await stack.service.conversations.find_open_conversation(
        Channel.CHAT, identity=IdentityIn(kind=IdentityKind.CHAT, value=visitor)
    )
    assert found is not None
    return found.id


async def scraped(stack: Stack) -> str:
    """The node's /metrics, as Prometheus reads it (a bearer token with events:read); once
    its heartbeat has counted both nodes."""
    token = await stack.token("events:read")
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            async with http.get(
                stack.service.web.url + "metrics", headers={"Authorization": f"Bearer {token}"}
            ) as response:
                assert response.status == 200
                text = await response.text()
            if metric(text, "hotline_cluster_nodes_alive") == 2:
                break
            await asyncio.sleep(0.05)
        return text


def metric(text: str, name: str) -> float:
    [value] = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(name + " ")]
    return float(value)


async def test_a_chat_whose_customer_and_agent_are_on_different_nodes(tmp_path: Path) -> None:
    async with two_nodes(tmp_path) as (a, b):
        async with agent_page(b, AGENT) as desk, visitor_page(a) as page:
            assert (await desk.next("snapshot"))["tasks"] == []
            visitor = (await page.hello(name="Mona"))["visitor"]
            assert (await page.say("m1", "my internet is down"))["type"] == "ack"
            talk = await conversation_of(a, visitor)
            # offered on B, where the agent's desktop is
            offer = (await desk.next("offered"))["task"]
            assert offer["conversation"] == talk
            assert [m["text"] for m in offer["thread"]] == ["my internet is down"]
            assert (await desk.post(f"{talk}/accept"))[0] == 200
            await desk.next("accepted")
            await page.next("status", lambda f: f["state"] == "connected")

            # the agent's page showed the first message: "seen" on the customer's page on A
            first = offer["thread"][0]["id"]
            await desk.ws.send_json({"type": "read", "conversation": talk, "ids": [first]})
            seen = await page.next("delivery")
            assert (seen["id"], seen["state"]) == (first, "read")

            # the customer's typing and messages reach the agent live
            await page.ws.send_json({"type": "typing", "on": True})
            typing = await desk.next("typing")
            assert (typing["conversation"], typing["on"]) == (talk, True)
            await page.say("m2", "the light is red")
            said = await desk.next("message", lambda f: f["conversation"] == talk)
            assert said["message"]["text"] == "the light is red"

            # the agent's typing and reply reach the customer's page on A
            await desk.ws.send_json({"type": "typing", "conversation": talk, "on": True})
            assert (await page.next("typing"))["on"] is True
            status, answer = await desk.post(
                f"{talk}/messages", {"text": "Unplug it for ten seconds", "ref": "r1"}
            )
            assert status == 200, answer
            assert answer["message"]["delivery"] == "sent"
            shown = (await page.next("message"))["message"]
            assert shown["text"] == "Unplug it for ten seconds"
            # the customer's page says it read it: the agent sees the ticks on B
            await page.ws.send_json({"type": "receipt", "state": "read", "ids": [shown["id"]]})
            ticks = await desk.next("delivery", lambda f: f["state"] == "read")
            assert ticks["id"] == answer["message"]["id"]

            assert (await desk.post(f"{talk}/close", {"status": "resolved"}))[0] == 200
            await desk.next("closed", lambda f: f["conversation"] == talk)
            await page.next("status", lambda f: f["state"] == "closed")

        # one task on both copies, the thread kept once in the shared history
        await a.service.desk.flush()
        await b.service.desk.flush()
        history = a.service.conversations
        interaction = await history.repository.get_interaction(talk)
        assert (interaction.status, interaction.agent, interaction.outcome) == (
            Status.RESOLVED,
            AGENT,
            "answered",
        )
        thread = (await history.thread(talk, limit=10)).messages
        assert [m.body for m in thread] == [
            "my internet is down",
            "the light is red",
            "Unplug it for ten seconds",
        ]
        assert thread[-1].delivery is Delivery.READ

        # each node's /metrics: one leader, the same epoch, both nodes alive
        scrapes = [await scraped(n) for n in (a, b)]
        assert sum(metric(t, "hotline_cluster_leader") for t in scrapes) == 1
        assert len({metric(t, "hotline_cluster_leader_epoch") for t in scrapes}) == 1
        for stack, text in zip((a, b), scrapes, strict=True):
            node = stack.service.node
            assert node is not None
            shared = node.cluster
            assert metric(text, "hotline_cluster_nodes_alive") == 2
            assert metric(text, "hotline_cluster_changes_applied_total") <= shared.applied
            assert metric(text, "hotline_cluster_records_refused_total") == 0
            relay = node.relay
            assert relay is not None
            # the relay's notices: each node told the other (messages, deliveries, typing)
            assert 0 < metric(text, "hotline_cluster_relay_notices_sent_total") <= relay.sent
            assert 0 < metric(text, "hotline_cluster_relay_notices_heard_total") <= relay.heard
            assert metric(text, "hotline_cluster_relay_notices_refused_total") == 0
            assert metric(text, "hotline_cluster_relay_notices_dropped_total") == 0


async def test_an_email_received_on_one_node_is_answered_from_the_other(tmp_path: Path) -> None:
    sink = Relay()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink, loop=loop), "127.0.0.1", 0)
    mail = {
        "email.enabled": True,
        "email.port": 0,
        "email.accepted_recipients": [SUPPORT],
        "email.from_address": SUPPORT,
        "email.message_id_domain": "mail.hotline.test",
        "email.relay.host": "127.0.0.1",
        "email.relay.port": server.sockets[0].getsockname()[1],
        "email.relay.security": "none",
    }
    try:
        async with two_nodes(tmp_path, **mail) as (a, b), agent_page(b, AGENT) as desk:
            await desk.next("snapshot")
            assert a.service.email is not None
            raw = customer_mail("My internet is down", message_id="<c1@example.com>")
            sent = await asyncio.to_thread(smtp_send, a.service.email.port, raw, NADIA[1])
            assert sent[0] == 250
            found = await a.service.conversations.conversation_of_external_id("<c1@example.com>")
            assert found is not None
            offer = (await desk.next("offered"))["task"]
            assert (offer["conversation"], offer["channel"]) == (found.id, "email")
            assert (await desk.post(f"{found.id}/accept"))[0] == 200
            status, answer = await desk.post(
                f"{found.id}/messages", {"text": "Fixed on our side.", "ref": "r1"}
            )
            assert status == 200, answer
            assert answer["message"]["delivery"] == "sent"
            [reply] = sink.replies()  # sent by node B, threaded under the customer's mail
            assert reply.in_reply_to == ("<c1@example.com>",)
            assert (await desk.post(f"{found.id}/close", {"status": "resolved"}))[0] == 200
            await desk.next("closed")
    finally:
        server.close()
        await server.wait_closed()


async def crash(stack: Stack) -> None:
    """The node dies: nothing more of it reaches the shared ACD's log (its heartbeat key
    expires: the leader declares it lost), its conversation relay goes silent and its
    visitors' sockets drop. (The rest of it is closed when the test ends.)"""
    node = stack.service.node
    assert node is not None
    assert node.relay is not None
    cluster, relay = node.cluster, node.relay
    await cluster.close(leave=False)
    await relay.close()
    await stack.service.chat.close()
    await stack.service.web.close()


async def test_a_chat_outlives_the_node_that_routed_it(tmp_path: Path) -> None:
    """The customer's page is on A, which routed the chat; the agent answered it from B.
    A dies. The chat stays with the agent (not abandoned, not offered again), B takes it
    over; the customer's page reconnects to B, writes, the agent answers and closes: one
    task, the thread whole, the interaction written to its end with its true times."""
    async with two_nodes(tmp_path) as (a, b), agent_page(b, AGENT) as desk:
        await desk.next("snapshot")
        async with visitor_page(a) as page:
            visitor = (await page.hello(name="Mona"))["visitor"]
            assert (await page.say("m1", "my internet is down"))["type"] == "ack"
            talk = await conversation_of(a, visitor)
            task = f"chat-{talk}.1"
            await desk.next("offered", lambda f: f["task"]["conversation"] == talk)
            assert a.service.acd.owns(task)
            assert (await desk.post(f"{talk}/accept"))[0] == 200
            accepted = time.monotonic()
            await desk.next("accepted")
            await page.next("status", lambda f: f["state"] == "connected")
            status, answer = await desk.post(
                f"{talk}/messages", {"text": "Let me look", "ref": "r1"}
            )
            assert (status, answer["message"]["delivery"]) == (200, "sent")
            last = (await page.next("message"))["message"]["id"]
            history = b.service.conversations.repository

            async def written() -> bool:
                return (await history.get_interaction(talk)).agent == AGENT

            for _ in range(200):  # A wrote the answer (agent, wait) before it died
                if await written():
                    break
                await asyncio.sleep(0.02)
            assert await written()

            await crash(a)
            await wait_until(lambda: b.service.acd.owns(task), timeout_s=15)
        assert b.service.desk.task_of(talk) == task
        assert b.service.desk.holder(talk) == AGENT  # kept: not re-offered
        assert not [e for e in b.events(CallAbandoned) if e.call_id == task]

        async with visitor_page(b) as again:
            assert (await again.hello(visitor=visitor, last=last))["conversation"] == talk
            await again.next("status", lambda f: f["state"] == "connected")
            assert (await again.say("m2", "still red"))["type"] == "ack"
            said = await desk.next("message", lambda f: f["message"]["text"] == "still red")
            assert said["conversation"] == talk
            status, answer = await desk.post(
                f"{talk}/messages", {"text": "Unplug it for ten seconds", "ref": "r2"}
            )
            assert (status, answer["message"]["delivery"]) == (200, "sent")
            shown = await again.next("message", lambda f: f["message"]["text"].startswith("Un"))
            assert shown["message"]["id"] == answer["message"]["id"]
            closing = time.monotonic()
            assert (await desk.post(f"{talk}/close", {"status": "resolved"}))[0] == 200
            await desk.next("closed", lambda f: f["conversation"] == talk)
            closed = time.monotonic()
            await again.next("status", lambda f: f["state"] == "closed")

        await b.service.desk.flush()
        await b.flushed()
        interaction = await b.service.conversations.repository.get_interaction(talk)
        assert (interaction.status, interaction.agent, interaction.outcome) == (
            Status.RESOLVED,
            AGENT,
            "answered",
        )
        assert interaction.ended_at is not None
        assert interaction.wait_s is not None
        assert interaction.talk_s is not None
        assert closing - accepted - 0.5 <= interaction.talk_s <= closed - accepted + 0.5
        thread = (await b.service.conversations.thread(talk, limit=10)).messages
        assert [m.body for m in thread] == [
            "my internet is down",
            "Let me look",
            "still red",
            "Unplug it for ten seconds",
        ]
        queued = [e for e in b.events(CallQueued) if e.call_id.startswith(f"chat-{talk}.")]
        assert [e.call_id for e in queued] == [task]  # one task, never queued again
