"""The conversation desk: a customer's message is kept, then routed as a task of the one
ACD (its intent and the customer's history choose the queue and the priority); the agent
accepts, writes back through the channel's outlet, and closes; the interaction follows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from acd.agent_events import Login
from acd.build import build_acd
from acd.events import InMemoryEventSink
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from acd.workload import StaleTask, TaskPhase
from center.conversation_routing import ConversationRouting
from center.conversations import ConversationDesk, DeskError
from center.desk_events import DeskEvent
from center.service import AcdService
from center.webhook_feed import WebhookFeed
from history.attachments import AttachmentStore
from history.conversations import Conversations
from history.identities import IdentityKind
from history.inputs import Delivery, IdentityIn, NewCustomer, Status
from history.records import Interaction, Message
from history.repository import HistoryRepository
from history.store import create_engine, migrate
from ivr.callers import HistoryDirectory
from ivr.intent.classifier import IntentMatch
from tests.e2e.stack import wait_until

QUEUES = {
    "support": {"required": {"internet": 1}},
    "billing": {"required": {"billing": 1}},
}
ROUTING = ConversationRouting("support", {"billing": "billing"})


class Desk:
    def __init__(self, desk: ConversationDesk, acd: AcdService, store: Conversations) -> None:
        self.desk, self.acd, self.store = desk, acd, store
        self.events: list[DeskEvent] = []
        self.sent: list[tuple[int, str]] = []
        self.outlet_fails = False
        desk.subscribe(self.events.append)
        desk.register_outlet("chat", self.outlet)

    async def outlet(self, conversation: Interaction, message: Message) -> None:
        if self.outlet_fails:
            raise ConnectionError("the customer's page is gone")
        self.sent.append((conversation.id, message.body))

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    async def interaction(self, conversation_id: int) -> Interaction:
        await self.desk.flush()
        return await self.store.repository.get_interaction(conversation_id)


def classify(text: str, language: str) -> IntentMatch:
    """A stand-in for the trained classifier: bills are billing, the rest a fault."""
    if "bill" in text:
        return IntentMatch("billing_question", 0.9, "billing", 1, True)
    return IntentMatch("technical_fault", 0.8, "technical_fault", 3, True)


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/history.db")
    await migrate(engine)
    repository = HistoryRepository(engine, attachments=AttachmentStore(tmp_path / "files"))
    store = Conversations(repository)
    setup = build_acd(
        PriorityConfig.model_validate({"tiers": {"gold": 30}}),
        QueuesConfig.model_validate({"queues": QUEUES}),
        AgentsConfig.model_validate(
            {
                "policy": {"wrap_up_s": 0},
                "capacity": {"digital": {"chat": 2, "email": 1}},
                "agents": [
                    {"id": "tech", "skills": {"internet": 2}},
                    {"id": "cashier", "skills": {"billing": 2}},
                ],
            }
        ),
    )
    acd = AcdService(setup, sink=InMemoryEventSink())
    await acd.start()
    made = ConversationDesk(
        store, acd, ROUTING, directory=HistoryDirectory(repository), classify=classify
    )
    try:
        yield Desk(made, acd, store)
    finally:
        await made.stop()
        await acd.close()
        await engine.dispose()


WEB = IdentityIn(kind=IdentityKind.CHAT, value="visitor-7f3a")


async def test_a_chat_about_a_bill_goes_to_billing_and_the_agent_answers_it(desk: Desk) -> None:
    desk.acd.agent_event(Login("tech"))
    desk.acd.agent_event(Login("cashier"))
    said = await desk.desk.customer_wrote("chat", "my bill is wrong", identity=WEB)
    conversation = said.conversation_id
    assert desk.desk.holder(conversation) == "cashier"  # billing's agent, not the first
    (held,) = desk.acd.distributor.tasks_of("cashier")
    assert held.phase is TaskPhase.RESERVED
    await desk.desk.accept("cashier", conversation)
    reply = await desk.desk.agent_wrote("cashier", conversation, "Let me check that for you")
    assert reply.delivery is Delivery.SENT
    assert desk.sent == [(conversation, "Let me check that for you")]
    again = await desk.desk.customer_wrote("chat", "thanks", conversation_id=conversation)
    # same task, no new one
    assert desk.acd.distributor.tasks_of("cashier")[0].phase is TaskPhase.ACTIVE
    desk.desk.finish("cashier", conversation, status=Status.RESOLVED)
    interaction = await desk.interaction(conversation)
    assert (interaction.queue, interaction.agent) == ("billing", "cashier")
    assert (interaction.intent, interaction.call_type) == ("billing_question", "billing")
    assert (interaction.outcome, interaction.status) == ("answered", Status.RESOLVED)
    assert interaction.wait_s is not None
    assert interaction.talk_s is not None
    assert interaction.ended_at is not None
    thread = await desk.store.thread(conversation)
    assert [m.body for m in thread.messages] == [
        "my bill is wrong",
        "Let me check that for you",
        "thanks",
    ]
    assert again.conversation_id == conversation
    assert desk.kinds()[:4] == ["message", "queued", "offered", "accepted"]
    assert desk.kinds()[-2:] == ["closed", "status"]
    assert desk.events[-1].reason == "resolved"


async def test_a_known_gold_customer_is_served_before_an_anonymous_one(desk: Desk) -> None:
    repository = desk.store.repository
    gold = await repository.create_customer(
        NewCustomer(
            name="Nadia",
            tier="gold",
            identities=(IdentityIn(kind=IdentityKind.EMAIL, value="nadia@example.com"),),
        )
    )
    first = await desk.desk.customer_wrote(
        "chat", "internet down", identity=IdentityIn(kind=IdentityKind.CHAT, value="anon-1")
    )
    second = await desk.desk.customer_wrote("chat", "internet down too", customer_id=gold.id)
    desk.acd.agent_event(Login("tech"))
    offered = [t.task_id for t in desk.acd.distributor.tasks_of("tech")]
    assert offered[0] == desk.desk.task_of(second.conversation_id)  # gold first
    assert desk.desk.task_of(first.conversation_id) in offered  # then the other (2 chats)


async def test_only_the_agent_the_chat_is_with_may_write_and_a_failed_send_is_kept(
    desk: Desk,
) -> None:
    desk.acd.agent_event(Login("tech"))
    said = await desk.desk.customer_wrote("chat", "no signal", identity=WEB)
    conversation = said.conversation_id
    with pytest.raises(DeskError):  # offered, not accepted yet
        await desk.desk.agent_wrote("tech", conversation, "hello")
    with pytest.raises(StaleTask):
        await desk.desk.accept("cashier", conversation)
    await desk.desk.accept("tech", conversation)
    with pytest.raises(DeskError):
        await desk.desk.agent_wrote("cashier", conversation, "hello")
    desk.outlet_fails = True
    reply = await desk.desk.agent_wrote("tech", conversation, "<b>hi</b>")
    assert reply.delivery is Delivery.FAILED
    thread = await desk.store.thread(conversation)
    assert thread.messages[-1].body == "<b>hi</b>"  # kept as written, as text


async def test_a_customer_who_leaves_before_an_agent_takes_the_chat_abandons_it(
    desk: Desk,
) -> None:
    said = await desk.desk.customer_wrote("chat", "hello?", identity=WEB)
    await desk.desk.customer_left(said.conversation_id)
    interaction = await desk.interaction(said.conversation_id)
    assert interaction.outcome == "abandoned_queue"
    assert desk.desk.task_of(said.conversation_id) is None
    assert "abandoned" in desk.kinds()


async def test_a_postponed_conversation_is_queued_again_when_the_customer_writes(
    desk: Desk,
) -> None:
    desk.acd.agent_event(Login("tech"))
    said = await desk.desk.customer_wrote("chat", "router keeps rebooting", identity=WEB)
    conversation = said.conversation_id
    await desk.desk.accept("tech", conversation)
    desk.desk.finish("tech", conversation, status=Status.POSTPONED)
    first_task = f"chat-{conversation}.1"
    assert desk.desk.task_of(conversation) is None
    again = await desk.desk.customer_wrote("chat", "it did it again", identity=WEB)
    assert again.conversation_id == conversation  # the postponed one continues
    await wait_until(lambda: desk.desk.task_of(conversation) == f"chat-{conversation}.2")
    assert first_task != desk.desk.task_of(conversation)


async def test_each_step_of_a_conversation_is_a_webhook_for_messaging_modules(
    desk: Desk,
) -> None:
    published: list[tuple[str, dict[str, object]]] = []

    async def publish(kind: str, data: Mapping[str, object]) -> None:
        published.append((kind, dict(data)))

    feed = WebhookFeed(publish)
    desk.desk.subscribe(feed)
    desk.acd.agent_event(Login("tech"))
    said = await desk.desk.customer_wrote("chat", "no internet since noon", identity=WEB)
    conversation = said.conversation_id
    await desk.desk.accept("tech", conversation)
    await desk.desk.agent_wrote("tech", conversation, "Restarting your line now")
    desk.desk.finish("tech", conversation, status=Status.RESOLVED)
    await feed.drain()
    kinds = [kind for kind, _ in published]
    assert kinds == [
        "message.created",
        "task.created",
        "task.assigned",
        "message.created",
        "message.delivery",
        "task.completed",
        "conversation.resolved",
    ]
    task = f"chat-{conversation}.1"
    assert all(d["conversation_id"] == conversation for _, d in published)
    assert published[1][1]["queue"] == "support"
    assert (published[2][1]["agent"], published[2][1]["task_id"]) == ("tech", task)
    assert published[3][1]["body"] == "Restarting your line now"
    assert published[4][1]["delivery"] == "sent"
    assert published[5][1]["outcome"] == "answered"


async def test_conversations_waiting_when_the_service_stopped_wait_again_after_a_start(
    desk: Desk,
) -> None:
    waiting = await desk.desk.customer_wrote("chat", "still no signal", identity=WEB)
    desk.acd.agent_event(Login("tech"))
    await desk.desk.accept("tech", waiting.conversation_id)  # with an agent when it stops
    other = await desk.desk.customer_wrote(
        "chat", "my bill is wrong", identity=IdentityIn(kind=IdentityKind.CHAT, value="v2")
    )
    done = await desk.desk.customer_wrote(
        "chat", "router broken", identity=IdentityIn(kind=IdentityKind.CHAT, value="v3")
    )
    await desk.desk.accept("tech", done.conversation_id)
    desk.desk.finish("tech", done.conversation_id)  # resolved: not resumed
    await desk.desk.flush()
    # a new run: a new ACD and desk on the same store
    acd = AcdService(desk.acd.setup, sink=InMemoryEventSink())
    await acd.start()
    again = ConversationDesk(desk.store, acd, ROUTING, classify=classify)
    try:
        assert await again.resume() == 2
        assert again.task_of(waiting.conversation_id) is not None
        assert again.task_of(other.conversation_id) is not None
        assert again.task_of(done.conversation_id) is None
        acd.agent_event(Login("cashier"))
        (held,) = acd.distributor.tasks_of("cashier")
        assert held.task_id == again.task_of(other.conversation_id)  # billing's, by intent
    finally:
        await again.stop()
        await acd.close()


async def test_a_customer_writing_in_a_resolved_thread_opens_it_again(desk: Desk) -> None:
    """As an e-mail reply to a resolved thread does: the conversation is routed again and
    open until the next close; a system note (an auto-reply) is shown, never routed."""
    desk.acd.agent_event(Login("tech"))
    said = await desk.desk.customer_wrote("chat", "line dead", identity=WEB)
    conversation = said.conversation_id
    await desk.desk.accept("tech", conversation)
    desk.desk.finish("tech", conversation, status=Status.RESOLVED)
    assert (await desk.interaction(conversation)).status is Status.RESOLVED
    await desk.desk.customer_wrote("chat", "dead again", conversation_id=conversation)
    assert desk.desk.task_of(conversation) == f"chat-{conversation}.2"
    reopened = await desk.interaction(conversation)
    assert (reopened.status, reopened.outcome, reopened.ended_at) == (Status.OPEN, None, None)


async def test_two_messages_arriving_at_once_route_their_conversation_once(desk: Desk) -> None:
    """As two REST API calls for one new conversation may: one task, both messages kept."""
    first = await desk.desk.customer_wrote("chat", "hello", identity=WEB)
    await desk.desk.customer_left(first.conversation_id)  # no task now; the thread stays
    conversation = first.conversation_id
    await asyncio.gather(
        desk.desk.customer_wrote("chat", "are you there", conversation_id=conversation),
        desk.desk.customer_wrote("chat", "anyone?", conversation_id=conversation),
    )
    queued = [e for e in desk.events if e.kind == "queued" and e.conversation_id == conversation]
    assert len(queued) == 2  # the first contact's, then one for the two messages at once
    thread = await desk.store.thread(conversation)
    assert len(thread.messages) == 3
