"""The ACD's event log and the queued call's interaction, written to the history store."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event

from acd.agent_events import Answered, HungUp
from acd.build import build_acd
from acd.calls import IncomingCall
from acd.events import AgentStateChanged, InMemoryEventSink
from acd.live.persistence import HistoryEventSink, HistoryInteractions
from acd.live.service import AcdService
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from history.errors import UnknownInteraction
from history.inputs import InteractionRef, NewEvent
from history.repository import HistoryRepository
from history.spool import Spool
from history.store import create_engine, migrate
from history.writer import HistoryWriter
from ivr.flow.handoff import CallAttributes
from ivr.flow.state import CallReport, Ending

from .support import PRIORITY, QUEUES


@pytest.fixture
async def writer(tmp_path: Path) -> AsyncIterator[HistoryWriter]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/hotline.db")
    await migrate(engine)
    made = HistoryWriter(HistoryRepository(engine), Spool(tmp_path / "spool.jsonl"))
    await made.start()
    try:
        yield made
    finally:
        await made.close()
        await engine.dispose()


def service_with(sink: HistoryEventSink) -> AcdService:
    setup = build_acd(
        PriorityConfig.model_validate(PRIORITY),
        QueuesConfig.model_validate({"queues": QUEUES}),
        AgentsConfig.model_validate(
            {"agents": [{"id": "1001", "endpoint": "SIP/agent1001", "skills": {"internet": 2}}]}
        ),
    )
    return AcdService(setup, sink=sink)


async def test_every_acd_event_reaches_the_history_event_log_in_order(
    writer: HistoryWriter,
) -> None:
    memory = InMemoryEventSink()
    sink = HistoryEventSink(writer, inner=memory, run="run1")
    service = service_with(sink)
    service.login("1001")
    service.call_arrived(IncomingCall("c1", "support")).offers.get_nowait()
    service.fact(Answered("1001", "c1"))
    service.fact(HungUp("1001", "c1"))
    await sink.flush()

    stored = await writer.repository.events()
    assert [e.kind for e in stored] == [
        "agent_state_changed",
        "call_queued",
        "call_offered",
        "agent_state_changed",
        "agent_state_changed",
        "call_answered",
        "agent_state_changed",
        "call_ended",
    ]
    assert [e.payload["seq"] for e in stored] == [r.seq for r in memory.records()]
    offered = stored[2]
    assert (offered.call_id, offered.agent_id) == ("c1", "1001")
    assert offered.payload["explanation"].startswith("call c1 waited")
    assert stored[-1].payload["reason"] == "call ended, wrap-up 10 s"


async def test_a_reloads_queue_changes_reach_the_history_event_log(writer: HistoryWriter) -> None:
    sink = HistoryEventSink(writer, run="run1")
    service = service_with(sink)
    service.call_arrived(IncomingCall("c1", "support"))
    reloaded = build_acd(
        PriorityConfig.model_validate({**PRIORITY, "tiers": {"key_account": 50, "regular": 0}}),
        QueuesConfig.model_validate({"queues": {"support": QUEUES["support"]}}),
        AgentsConfig.model_validate({"agents": []}),
    )
    service.update_queues(reloaded)
    await sink.flush()

    stored = [e for e in await writer.repository.events() if e.kind != "call_queued"]
    assert [(e.kind, e.payload.get("queue"), e.payload.get("change")) for e in stored] == [
        ("queue_updated", "billing", "removed"),
        ("priority_weights_updated", None, None),
    ]
    assert stored[1].payload["calls_rescored"] == 0  # c1 has no tier: its score is the same


async def test_a_burst_of_acd_events_is_logged_in_order_in_a_few_transactions(
    writer: HistoryWriter,
) -> None:
    commits: list[object] = []
    event.listen(writer.repository.engine.sync_engine, "commit", commits.append)
    memory = InMemoryEventSink()
    sink = HistoryEventSink(writer, inner=memory, run="burst")
    for n in range(600):
        sink.append(float(n), AgentStateChanged(f"a{n % 9}", "idle", "busy", "offer", f"c{n}"))
    await sink.close()

    stored = await writer.repository.events(limit=1000)
    assert [e.payload["seq"] for e in stored] == [r.seq for r in memory.records()]
    assert len(stored) == 600
    assert len(commits) <= 6  # group commit: one at a time would be 600


async def test_a_stalled_store_never_makes_the_acd_wait() -> None:
    stalled = asyncio.Event()

    class Stuck:
        async def append_event(self, new: NewEvent) -> None:
            await stalled.wait()

    sink = HistoryEventSink(Stuck())
    service = service_with(sink)
    for n in range(50):
        service.call_arrived(IncomingCall(f"c{n}", "support"))
    assert service.distributor.router.waiting_count == 50
    async with asyncio.timeout(3):
        await sink.close(timeout_s=0.1)  # gives up on what the store never took


async def test_the_queued_calls_interaction_is_written_through(writer: HistoryWriter) -> None:
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    interactions = HistoryInteractions(writer, wall=lambda: now)
    call = CallAttributes(
        call_id="1795356299.7",
        channel="SIP/caller-07",
        caller_number="+441632960777",
        language="en",
        intent="internet_down",
        call_type="technical_fault",
    )
    interactions.queued(call, "support")
    interactions.queued(call, "support")  # an overflow or a retry: still one interaction
    interactions.answered(call.call_id, agent_id="1001", wait_s=12.5)
    interactions.ended(call.call_id, outcome="answered", talk_s=95.0)
    await interactions.flush()

    stored = await writer.repository.get_interaction(
        InteractionRef(source="hotline", idempotency_key=call.call_id)
    )
    assert (stored.queue, stored.agent, stored.wait_s, stored.talk_s, stored.outcome) == (
        "support",
        "1001",
        12.5,
        95.0,
        "answered",
    )
    assert stored.intent == "internet_down"
    assert stored.ended_at == now
    await interactions.close()


def ivr_report(call_id: str, ending: Ending) -> CallReport:
    return CallReport(
        call_id=call_id,
        channel="SIP/caller-08",
        caller_number="+441632960888",
        flow_version="v1",
        started_at=dt.datetime(2026, 3, 2, 8, 59, tzinfo=dt.UTC),
        ending=ending,
        last_node="price",
        attributes={"intent": "price_question", "call_type": "price_question"},
        trace=(),
    )


async def test_a_call_that_ends_in_the_ivr_is_one_interaction_too(writer: HistoryWriter) -> None:
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    interactions = HistoryInteractions(writer, wall=lambda: now)
    interactions.ivr_ended(ivr_report("self.1", "hangup"))
    interactions.ivr_ended(ivr_report("vm.1", "voicemail"))
    interactions.ivr_ended(ivr_report("queued.1", "queued"))  # the ACD's to record
    await interactions.flush()

    repository = writer.repository
    self_service = await repository.get_interaction(
        InteractionRef(source="hotline", idempotency_key="self.1")
    )
    voicemail = await repository.get_interaction(
        InteractionRef(source="hotline", idempotency_key="vm.1")
    )
    assert (self_service.outcome, self_service.status, self_service.intent) == (
        "self-service",
        "resolved",
        "price_question",
    )
    assert (voicemail.outcome, voicemail.status) == ("voicemail", "open")
    with pytest.raises(UnknownInteraction):
        await repository.get_interaction(
            InteractionRef(source="hotline", idempotency_key="queued.1")
        )
    customer = await repository.find_customer("phone", "+441632960888")
    assert customer is not None
    await interactions.close()
