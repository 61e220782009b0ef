"""The conversation relay between two nodes on a real redis-server: a desk's notices reach the
other node's desk (not those the ACD's log tells every node itself), typing goes across once
(no echo), an agent's message is delivered by the node whose outlet holds the customer (or
fails when none does), and a notice with a wrong signature is refused and counted."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis

from center.acd_cluster_figures import RelayFigures
from center.acd_log_codec import LogCodec
from center.conversation_relay import ConversationRelay, NotDelivered, put_back
from center.desk_events import DeskEvent
from center.desk_outlets import Outlet
from history.inputs import AuthorKind, Channel, Delivery, Direction, Status
from history.records import Interaction, Message
from hotline.web.typing_relay import TypingRelay
from tests.e2e.stack import wait_until

from .rig import RedisServer

KEY = bytes(range(32))
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class Absent(Exception):
    """The customer is not connected to this node."""


class Desk:
    """What the relay uses of a node's desk: its listeners, what other nodes told it, the
    outlet it was given."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[DeskEvent], None]] = []
        self.heard: list[DeskEvent] = []
        self.outlets: dict[str, Outlet] = {}

    def subscribe(
        self, listener: Callable[[DeskEvent], None], *, everywhere: bool = False
    ) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def relayed(self, event: DeskEvent) -> None:
        self.heard.append(event)

    def register_outlet(
        self, channel: str, outlet: Outlet, *, message_ids: Callable[[], str] | None = None
    ) -> None:
        self.outlets[channel] = outlet

    def tell(self, event: DeskEvent) -> None:
        for listener in self.listeners:
            listener(event)


class Node:
    def __init__(self, relay: ConversationRelay, holds: set[int]) -> None:
        self.relay, self.desk, self.typing = relay, Desk(), TypingRelay()
        self.holds = holds  # the conversations whose customer is connected here
        self.delivered: list[int] = []
        self.agent_saw: list[tuple[int, bool]] = []
        self.customer_saw: list[tuple[int, bool]] = []
        self.typing.on_customer_typing(lambda c, on: self.agent_saw.append((c, on)))
        self.typing.on_agent_typing("chat", lambda c, on: self.customer_saw.append((c, on)))
        relay.carry(self.desk, self.typing)
        relay.outlet(self.desk, "chat", self.chat_outlet, absent=Absent)

    async def chat_outlet(self, conversation: Interaction, message: Message) -> None:
        if conversation.id not in self.holds:
            raise Absent(conversation.id)
        self.delivered.append(message.id)

    def deliver(self, conversation: Interaction, message: Message) -> Awaitable[None]:
        return self.desk.outlets["chat"](conversation, message)


@asynccontextmanager
async def two_nodes(
    server: RedisServer, a_holds: set[int], b_holds: set[int]
) -> AsyncIterator[tuple[Node, Node]]:
    a = Node(ConversationRelay(server.url, "t:desk", "a", KEY, answer_s=0.5), a_holds)
    b = Node(ConversationRelay(server.url, "t:desk", "b", KEY, answer_s=0.5), b_holds)
    await a.relay.start()
    await b.relay.start()
    try:
        yield a, b
    finally:
        await a.relay.close()
        await b.relay.close()


def chat(conversation_id: int) -> Interaction:
    return Interaction(
        id=conversation_id, customer_id=7, channel=Channel.CHAT, direction=Direction.IN,
        started_at=NOW, ended_at=None, intent=None, call_type=None, priority=None,
        queue="support", agent="1001", wait_s=None, talk_s=None, outcome=None,
        status=Status.OPEN, disposition=None, recording_ref=None, transcript=None, csat=None,
        source="chat", external_id=None, idempotency_key=None, created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def reply(message_id: int, conversation_id: int) -> Message:
    return Message(
        id=message_id, conversation_id=conversation_id, channel=Channel.CHAT,
        direction=Direction.OUT, author_kind=AuthorKind.AGENT, author_id="1001",
        author_name=None, subject=None, body="Unplug it", sent_at=NOW,
        delivery=Delivery.QUEUED, delivery_at=NOW, external_id=None, in_reply_to=None,
        references=None, attachments=(), created_at=NOW,
    )  # fmt: skip


async def test_a_desks_notices_reach_the_other_node_and_typing_goes_across_once(
    redis_server: RedisServer,
) -> None:
    async with two_nodes(redis_server, {1}, set()) as (a, b):
        said = DeskEvent("message", 1, "chat", "chat-1.1", None, reply(10, 1))
        a.desk.tell(said)
        a.desk.tell(DeskEvent("offered", 1, "chat", "chat-1.1", "1001"))  # every node's own
        a.desk.tell(DeskEvent("status", 1, "chat", "chat-1.1", "1001", reason="resolved"))
        await wait_until(lambda: len(b.desk.heard) == 2)
        assert [e.kind for e in b.desk.heard] == ["message", "status"]
        assert b.desk.heard[0] == said
        assert a.desk.heard == []  # a node does not hear itself

        a.typing.customer_typing(1, True)  # the customer, on A
        b.typing.agent_typing("chat", 1, True)  # the agent, on B
        await wait_until(lambda: b.agent_saw == [(1, True)] and a.customer_saw == [(1, True)])
        assert (a.agent_saw, b.customer_saw) == ([(1, True)], [(1, True)])  # and each locally
        await asyncio.sleep(0.2)
        assert (a.relay.sent, b.relay.sent) == (3, 1)  # nothing told back: no echo
        assert (b.agent_saw, a.customer_saw) == ([(1, True)], [(1, True)])
        assert a.relay.figures() == RelayFigures(sent=3, heard=1, refused=0, dropped=0, waiting=0)
        assert b.relay.figures() == RelayFigures(sent=1, heard=3, refused=0, dropped=0, waiting=0)


async def test_an_agents_message_is_delivered_by_the_node_holding_the_customer(
    redis_server: RedisServer,
) -> None:
    async with two_nodes(redis_server, {1}, set()) as (a, b):
        await b.deliver(chat(1), reply(10, 1))  # the customer's page is on A
        assert (a.delivered, b.delivered) == ([10], [])
        await a.deliver(chat(1), reply(11, 1))  # on this node: no notice
        assert a.delivered == [10, 11]
        with pytest.raises(NotDelivered, match="conversation 2"):
            await b.deliver(chat(2), reply(12, 2))  # on no node
        assert 12 not in a.delivered + b.delivered


async def test_a_notice_with_a_wrong_signature_is_refused(redis_server: RedisServer) -> None:
    async with two_nodes(redis_server, set(), set()) as (a, b):
        forged = LogCodec(b"another key, 32 bytes long......", {}).dumps(
            ("c", "event", DeskEvent("message", 1, "chat"))
        )
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            await client.publish("t:desk", forged)
        finally:
            await client.aclose()
        await wait_until(lambda: a.relay.refused == 1 and b.relay.refused == 1)
        assert a.desk.heard == b.desk.heard == []
        assert (a.relay.figures().refused, a.relay.figures().heard) == (1, 0)


def test_a_batch_that_cannot_go_back_whole_drops_its_oldest_and_counts_them() -> None:
    """Redis refused a batch while new notices filled the outbox: the batch goes back in
    front, in order, as far as there is room; the oldest of it are dropped and counted."""
    outbox: deque[bytes] = deque([b"n4", b"n5"], maxlen=4)
    assert put_back(outbox, [b"n1", b"n2", b"n3"]) == 1
    assert list(outbox) == [b"n2", b"n3", b"n4", b"n5"]
    assert put_back(outbox, [b"n0"]) == 1  # full: the batch itself is the oldest
    assert list(outbox) == [b"n2", b"n3", b"n4", b"n5"]
    roomy: deque[bytes] = deque([b"n3"], maxlen=10)
    assert put_back(roomy, [b"n1", b"n2"]) == 0
    assert list(roomy) == [b"n1", b"n2", b"n3"]
