"""Several nodes, one conversation: which node writes a chat's interaction and tells its
webhooks. Two real nodes of one shared ACD (on a Redis of the test's own), each with its
conversation desk, on one history store: the node whose arrival the log applied owns the
task (``AcdService.owns``); of two nodes resuming one conversation at once, the refused one
lets it be; a node lost hands its chats to the leader that declared it, agent and place
kept, and the interaction is written once to its end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from acd.agent_events import Login
from acd.build import build_acd
from acd.events import CallAbandoned, CallQueued
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from acd.workload import TaskPhase
from center.conversation_routing import ConversationRouting
from center.conversations import ConversationDesk
from center.desk_events import DeskEvent
from history.attachments import AttachmentStore
from history.conversations import Conversations
from history.identities import IdentityKind
from history.inputs import (
    AuthorKind,
    Channel,
    Delivery,
    Direction,
    IdentityIn,
    InteractionUpdate,
    NewConversation,
    NewMessage,
    Status,
)
from history.records import Interaction, Message, ThreadPage
from history.repository import HistoryRepository
from history.store import create_engine, migrate
from tests.center.support import wait_until as until

from .rig import Node, RedisServer

QUEUES = {"support": {"required": {"internet": 1}}, "billing": {"required": {"billing": 1}}}
ROUTING = ConversationRouting("support", {"billing": "billing"})
WEB = IdentityIn(kind=IdentityKind.CHAT, value="visitor-7f3a")


class GatedConversations(Conversations):
    """The history store, whose ``thread`` may wait until both desks read it (``gate``): the
    two resumes then hand the task in before either hears back from the log."""

    gate: asyncio.Barrier | None = None

    async def thread(
        self,
        conversation_id: int,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
    ) -> ThreadPage:
        page = await super().thread(conversation_id, limit=limit, before=before, after=after)
        if self.gate is not None:
            await self.gate.wait()
        return page


@dataclass
class Side:
    """One node: its share of the ACD, its desk, what its desk wrote and told."""

    node: Node
    desk: ConversationDesk
    writes: list[InteractionUpdate] = field(default_factory=list)
    pages: list[DeskEvent] = field(default_factory=list)
    hooks: list[DeskEvent] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[GatedConversations]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/history.db")
    await migrate(engine)
    try:
        yield GatedConversations(
            HistoryRepository(engine, attachments=AttachmentStore(tmp_path / "files"))
        )
    finally:
        await engine.dispose()


@pytest.fixture
async def sides(
    redis_server: RedisServer, store: GatedConversations
) -> AsyncIterator[tuple[Side, Side]]:
    setup = build_acd(
        PriorityConfig.model_validate({}),
        QueuesConfig.model_validate({"queues": QUEUES}),
        AgentsConfig.model_validate(
            {
                "policy": {"wrap_up_s": 0},
                "capacity": {"digital": {"chat": 2}},
                "agents": [{"id": "tech", "skills": {"internet": 2}}],
            }
        ),
    )
    made: list[Side] = []
    for name in "AB":
        node = Node(name, redis_server, setup, lease_s=0.6, node_ttl_s=1.0)
        await node.start()
        writes: list[InteractionUpdate] = []

        async def written(
            conversation_id: int,
            change: InteractionUpdate,
            writes: list[InteractionUpdate] = writes,
        ) -> None:
            writes.append(change)
            await store.repository.update_interaction(conversation_id, change)

        side = Side(node, ConversationDesk(store, node.service, ROUTING, updates=written), writes)
        side.desk.subscribe(side.pages.append, everywhere=True)
        side.desk.subscribe(side.hooks.append)

        async def outlet(conversation: Interaction, message: Message, side: Side = side) -> None:
            side.sent.append(message.body)

        side.desk.register_outlet("chat", outlet)
        made.append(side)
    a, b = made
    try:
        yield a, b
    finally:
        for side in made:
            await side.desk.stop()
            await side.node.stop()


async def agree(*sides: Side) -> None:
    clusters = [s.node.cluster for s in sides]
    await until(lambda: all(c.caught_up for c in clusters))
    await until(lambda: len({c.position for c in clusters}) == 1)


def changed(side: Side) -> list[set[str]]:
    return [set(w.changes()) for w in side.writes]


async def test_the_node_that_routed_a_chat_writes_it_and_the_agents_node_acts_on_it(
    sides: tuple[Side, Side], store: Conversations
) -> None:
    """The agent's desktop is on B: B knows the task from the ACD's events, offers it,
    takes the answer and the reply; B's pages hear everything, B's webhooks only what B
    did; A, whose arrival the log applied, writes the interaction as the ACD moves it."""
    a, b = sides
    a.node.service.agent_event(Login("tech"))
    said = await a.desk.customer_wrote("chat", "no internet", identity=WEB)
    talk = said.conversation_id
    task = a.desk.task_of(talk)
    assert task is not None
    await until(lambda: b.desk.holder(talk) == "tech")
    assert b.desk.task_of(talk) == task
    assert (a.node.service.owns(task), b.node.service.owns(task)) == (True, False)
    await until(lambda: a.desk.holder(talk) == "tech")
    await b.desk.accept("tech", talk)  # back from the log: B's copy has it, at once
    held = b.node.service.distributor.workload.task(task)
    assert held is not None
    assert held.phase is TaskPhase.ACTIVE
    await agree(a, b)
    late = ConversationDesk(store, b.node.service, ROUTING)  # a desk that starts later
    try:
        assert await late.resume() == 0  # the ACD holds it already: not routed again
        assert late.task_of(talk) == task
    finally:
        await late.stop()
    reply = await b.desk.agent_wrote("tech", talk, "Restart the router")
    assert (reply.delivery, b.sent) == (Delivery.SENT, ["Restart the router"])
    b.desk.finish("tech", talk, status=Status.RESOLVED)
    await until(lambda: a.desk.task_of(talk) is None and b.desk.task_of(talk) is None)
    await a.desk.flush()
    await b.desk.flush()
    assert changed(a) == [
        {"queue", "intent", "call_type", "status", "outcome", "ended_at"},
        {"agent", "wait_s"},
        {"ended_at", "talk_s", "outcome"},
    ]
    assert changed(b) == [{"status", "disposition"}]  # the agent's close, where it was made
    assert [e.kind for e in b.pages] == [
        "queued",
        "offered",
        "accepted",
        "message",
        "delivery",
        "status",
        "closed",
    ]  # fmt: skip: the close is told at once, the task's end when the log applies it
    assert [e.kind for e in b.hooks] == ["message", "delivery", "status"]
    interaction = await store.repository.get_interaction(talk)
    assert (interaction.agent, interaction.outcome, interaction.status) == (
        "tech",
        "answered",
        Status.RESOLVED,
    )


async def test_two_nodes_resuming_one_conversation_at_once_make_one_owner(
    sides: tuple[Side, Side], store: GatedConversations
) -> None:
    """Both desks hand in the same task at start; the log applies the first and refuses
    the second: that node's desk knows the task but neither writes it nor tells its
    webhooks, and the ACD keeps the task as the first node handed it in."""
    a, b = sides
    opened = await store.open_conversation(NewConversation(channel=Channel.CHAT, identity=WEB))
    talk = opened.conversation.id
    await store.append_message(
        NewMessage(
            conversation_id=talk,
            direction=Direction.IN,
            author_kind=AuthorKind.CUSTOMER,
            body="my line is dead",
        )
    )
    store.gate = asyncio.Barrier(2)
    assert list(await asyncio.gather(a.desk.resume(), b.desk.resume())) == [1, 1]  # both did
    store.gate = None
    await agree(a, b)
    task = f"chat-{talk}.1"
    assert a.desk.task_of(talk) == b.desk.task_of(talk) == task
    owners = [s for s in sides if s.node.service.owns(task)]
    assert len(owners) == 1
    [owner] = owners
    [other] = [s for s in sides if s is not owner]
    for side in sides:  # the task is the ACD's on both copies: their events reach both desks
        assert side.node.service.task(task) is not None
        assert len(side.node.records(CallQueued)) == 1

    owner.node.service.agent_event(Login("tech"))
    await until(lambda: other.desk.holder(talk) == "tech")
    await other.desk.accept("tech", talk)
    await until(lambda: owner.desk.holder(talk) == "tech" and "accepted" in kinds(owner))
    other.desk.finish("tech", talk)
    await until(lambda: owner.desk.task_of(talk) is None and other.desk.task_of(talk) is None)
    await a.desk.flush()
    await b.desk.flush()
    assert changed(owner) == [
        {"queue", "intent", "call_type", "status", "outcome", "ended_at"},
        {"agent", "wait_s"},
        {"ended_at", "talk_s", "outcome"},
    ]
    assert changed(other) == [{"status", "disposition"}]
    assert "queued" in kinds(owner)
    assert [e.kind for e in other.hooks] == ["status"]  # no ACD event told to its webhooks
    interaction = await store.repository.get_interaction(talk)
    assert (interaction.agent, interaction.outcome, interaction.status) == (
        "tech",
        "answered",
        Status.RESOLVED,
    )


def kinds(side: Side) -> list[str]:
    return [e.kind for e in side.hooks]


async def test_a_chat_outlives_the_node_that_routed_it(
    sides: tuple[Side, Side], store: Conversations
) -> None:
    """A routes the chat, the agent answers it from B; A dies. The chat stays with the
    agent (not abandoned, not offered again), B, the leader that declares A lost, owns it:
    the customer writes on B, the agent answers and closes on B, and the interaction is
    written to its end once, by B, with the handle time counted from the agent's accept."""
    a, b = sides
    a.node.service.agent_event(Login("tech"))
    said = await a.desk.customer_wrote("chat", "no internet", identity=WEB)
    talk = said.conversation_id
    task = a.desk.task_of(talk)
    assert task is not None
    await until(lambda: b.desk.holder(talk) == "tech")
    await b.desk.accept("tech", talk)
    await agree(a, b)
    await a.desk.flush()
    accepted = b.desk.task_of(talk)

    await a.node.stop(crash=True)  # its heartbeat expires; B leads and declares it lost
    await until(lambda: b.node.service.owns(task), 10)
    assert b.node.abandoned() == []
    held = b.node.service.distributor.workload.task(task)
    assert held is not None
    assert held.phase is TaskPhase.ACTIVE
    assert (b.desk.task_of(talk), b.desk.holder(talk)) == (accepted, "tech")

    await b.desk.customer_wrote("chat", "still nothing", conversation_id=talk)
    assert b.desk.task_of(talk) == task  # the same task: not routed again
    await b.desk.agent_wrote("tech", talk, "Unplug it for ten seconds")
    await asyncio.sleep(0.05)  # a handle time worth measuring
    b.desk.finish("tech", talk, status=Status.RESOLVED)
    await until(lambda: b.desk.task_of(talk) is None)
    await b.desk.flush()
    assert changed(a) == [
        {"queue", "intent", "call_type", "status", "outcome", "ended_at"},
        {"agent", "wait_s"},
    ]
    assert changed(b) == [{"status", "disposition"}, {"ended_at", "talk_s", "outcome"}]
    interaction = await store.repository.get_interaction(talk)
    assert (interaction.agent, interaction.outcome, interaction.status) == (
        "tech",
        "answered",
        Status.RESOLVED,
    )
    assert interaction.talk_s is not None
    assert interaction.talk_s >= 0.05
    thread = (await store.thread(talk)).messages
    assert [m.body for m in thread] == [
        "no internet",
        "still nothing",
        "Unplug it for ten seconds",
    ]
    assert [e.kind for e in b.hooks if e.kind not in ("message", "delivery")] == [
        "status",
        "closed",  # B's webhooks hear the task's end now: B owns it
    ]
    assert not [e for e in b.node.records(CallAbandoned) if e.call_id == task]


async def test_a_waiting_chat_of_a_lost_node_keeps_its_place_and_is_offered_later(
    sides: tuple[Side, Side], store: Conversations
) -> None:
    """No agent is ready when A routes the chat; A dies. The chat waits on, its entry time
    kept, B's from then on: the agent who logs in on B is offered it, and B writes the
    interaction from the answer to the end, with the wait counted from the first message."""
    a, b = sides
    said = await a.desk.customer_wrote("chat", "no internet", identity=WEB)
    talk = said.conversation_id
    task = a.desk.task_of(talk)
    assert task is not None
    await agree(a, b)
    await a.desk.flush()
    [queued] = [e for e in b.node.records(CallQueued) if e.call_id == task]

    await a.node.stop(crash=True)
    await until(lambda: b.node.service.owns(task), 10)
    [waiting] = list(b.node.service.distributor.router.waiting())
    assert (waiting.call_id, waiting.entry_time) == (task, queued.entry_time)
    b.node.service.agent_event(Login("tech"))
    await until(lambda: b.desk.holder(talk) == "tech")
    await b.desk.accept("tech", talk)
    await until(lambda: "accepted" in kinds(b))
    b.desk.finish("tech", talk)
    await until(lambda: b.desk.task_of(talk) is None)
    await b.desk.flush()
    assert changed(a) == [{"queue", "intent", "call_type", "status", "outcome", "ended_at"}]
    assert changed(b) == [
        {"agent", "wait_s"},
        {"status", "disposition"},
        {"ended_at", "talk_s", "outcome"},
    ]
    interaction = await store.repository.get_interaction(talk)
    assert interaction.wait_s is not None
    assert interaction.wait_s >= 1.0  # A's heartbeat had to expire first
    assert (interaction.agent, interaction.outcome) == ("tech", "answered")
