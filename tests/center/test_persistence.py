"""The ACD's event log and the queued call's interaction, written to the history store."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable

import pytest
from sqlalchemy import event, text

from acd.agent_events import Answered, HungUp, Login
from acd.build import build_acd
from acd.calls import IncomingCall
from acd.events import (
    AcdEvent,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallHoldChanged,
    EventRecord,
    InMemoryEventSink,
)
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from center.call_interactions import HistoryInteractions
from center.persistence import HistoryEventSink
from center.service import AcdService
from history.errors import UnknownInteraction
from history.inputs import InteractionRef, NewEvent
from history.outcomes import Outcome
from history.records import Interaction
from history.writer import HistoryWriter
from ivr.flow.handoff import CallAttributes
from ivr.flow.state import CallReport, Ending
from telephony.agi_codec import AgiEnvironment
from telephony.agi_session import AgiSession

from .support import PRIORITY, QUEUES


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
    service.agent_event(Login("1001"))
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
    service.reconfigure(reloaded)
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


NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def stored(writer: HistoryWriter, call_id: str) -> Awaitable[Interaction]:
    return writer.repository.get_interaction(
        InteractionRef(source="hotline", idempotency_key=call_id)
    )


class Wall:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


def session(call_id: str, caller_id: str) -> AgiSession:
    class Transport:
        def close(self) -> None:
            pass

    env = AgiEnvironment({"agi_uniqueid": call_id, "agi_callerid": caller_id})
    return AgiSession(env, Transport())  # type: ignore[arg-type]


async def test_the_queued_calls_interaction_is_written_through(writer: HistoryWriter) -> None:
    wall = Wall()
    interactions = HistoryInteractions(writer, wall=wall)
    call = CallAttributes(
        call_id="1795356299.7",
        channel="SIP/caller-07",
        caller_number="+441632960777",
        language="en",
        intent="internet_down",
        call_type="technical_fault",
    )

    async def ivr(agi: AgiSession) -> None:
        wall.now = NOW + dt.timedelta(seconds=20)  # the IVR took 20 s
        interactions.queued(call, "support")
        interactions.queued(call, "support")  # an overflow or a retry: still one interaction
        interactions.answered(call.call_id, agent_id="1001", wait_s=12.5)
        wall.now = NOW + dt.timedelta(seconds=80)
        interactions.ended(call.call_id, outcome=Outcome.ANSWERED, priority=46.4)

    await interactions.calls(ivr)(session(call.call_id, "+441632960777"))
    await interactions.flush()

    found = await stored(writer, call.call_id)
    assert (found.queue, found.agent, found.wait_s, found.outcome, found.priority) == (
        "support",
        "1001",
        12.5,
        "answered",
        46,
    )
    assert found.intent == "internet_down"
    assert found.started_at == NOW  # the arrival, not the queue entry
    assert found.ended_at == NOW + dt.timedelta(seconds=80)
    await interactions.close()


async def test_talk_hold_and_wrap_up_come_from_the_acds_events(writer: HistoryWriter) -> None:
    interactions = HistoryInteractions(writer, wall=lambda: NOW)
    call = CallAttributes("c7", "SIP/caller-07", "+441632960777", "en")
    interactions.queued(call, "support")
    told: list[tuple[float, AcdEvent]] = [
        (100.0, CallAnswered("c7", "1001", "support")),
        (130.0, CallHoldChanged("c7", "1001", on_hold=True)),
        (145.0, CallHoldChanged("c7", "1001", on_hold=False)),
        (160.0, AgentStateChanged("1001", "on_call", "wrap_up", "hung_up", "", "c7")),
        (160.0, CallEnded("c7", "1001", "support")),
        (172.5, AgentStateChanged("1001", "wrap_up", "available", "wrapup_done", "", "c7")),
    ]
    for at, happened in told:
        interactions.observe(EventRecord(1, at, happened))
    interactions.ended("c7", outcome=Outcome.ANSWERED)
    await interactions.flush()

    found = await stored(writer, "c7")
    assert (found.talk_s, found.hold_s, found.wrap_s) == (45.0, 15.0, 12.5)
    assert found.status == "resolved"  # set when the conversation ended
    await interactions.close()


async def test_a_talk_time_whose_start_is_unknown_is_not_stored(writer: HistoryWriter) -> None:
    interactions = HistoryInteractions(writer, wall=lambda: NOW)
    call = CallAttributes("c8", "SIP/caller-08", "+441632960778", "en")
    interactions.queued(call, "support")
    # AMI silent: the answer and the end are both learnt when Dial returns
    interactions.observe(EventRecord(1, 100.0, CallAnswered("c8", "1001", "support")))
    interactions.observe(EventRecord(2, 100.001, CallEnded("c8", "1001", "support")))
    interactions.ended("c8", outcome=Outcome.ANSWERED, talk_known=False)
    await interactions.flush()

    found = await stored(writer, "c8")
    assert (found.outcome, found.talk_s, found.hold_s) == ("answered", None, 0.0)
    await interactions.close()


def ivr_report(call_id: str, ending: Ending, **attributes: str) -> CallReport:
    return CallReport(
        call_id=call_id,
        channel="SIP/caller-08",
        caller_number="+441632960888",
        flow_version="v1",
        started_at=dt.datetime(2026, 3, 2, 8, 59, tzinfo=dt.UTC),
        ending=ending,
        last_node="price",
        attributes={"intent": "price_question", "call_type": "price_question", **attributes},
        trace=(),
    )


@pytest.mark.parametrize(
    ("ending", "attributes", "outcome", "status"),
    [
        ("hangup", {}, "self_service", "resolved"),
        ("voicemail", {}, "voicemail", "open"),
        ("caller_hangup", {}, "abandoned_ivr", "resolved"),
        ("fallback", {}, "fallback", "open"),
        ("error", {}, "failed", "open"),
        ("hangup", {"callback_number": "01632960888"}, "callback_requested", "open"),
        ("caller_hangup", {"callback_number": "01632960888"}, "callback_requested", "open"),
    ],
)
async def test_a_call_that_ends_in_the_ivr_is_one_interaction_with_its_outcome(
    writer: HistoryWriter,
    ending: Ending,
    attributes: dict[str, str],
    outcome: str,
    status: str,
) -> None:
    interactions = HistoryInteractions(writer, wall=lambda: NOW)
    interactions.ivr_ended(ivr_report("ivr.1", ending, **attributes))
    await interactions.flush()

    found = await stored(writer, "ivr.1")
    assert (found.outcome, found.status, found.intent) == (outcome, status, "price_question")
    assert found.started_at == dt.datetime(2026, 3, 2, 8, 59, tzinfo=dt.UTC)
    assert found.ended_at == NOW
    await interactions.close()


async def test_a_queued_call_is_the_acds_to_record(writer: HistoryWriter) -> None:
    interactions = HistoryInteractions(writer, wall=lambda: NOW)
    interactions.ivr_ended(ivr_report("queued.1", "queued"))
    await interactions.flush()
    with pytest.raises(UnknownInteraction):
        await stored(writer, "queued.1")
    await interactions.close()


async def test_a_call_the_service_stops_during_in_the_ivr_is_recorded_as_handed_to_the_fallback(
    writer: HistoryWriter,
) -> None:
    wall = Wall()
    interactions = HistoryInteractions(writer, wall=wall)
    in_ivr = asyncio.Event()

    async def ivr(agi: AgiSession) -> None:
        in_ivr.set()
        await asyncio.Event().wait()

    async def call() -> None:
        await interactions.calls(ivr)(session("cut.1", "bot2"))

    task = asyncio.create_task(call())
    await in_ivr.wait()
    wall.now = NOW + dt.timedelta(seconds=3)
    task.cancel()  # what the FastAGI server does to its calls when it closes
    with pytest.raises(asyncio.CancelledError):
        await task
    await interactions.flush()

    found = await stored(writer, "cut.1")
    assert (found.outcome, found.started_at, found.ended_at) == (
        "fallback",
        NOW,
        NOW + dt.timedelta(seconds=3),
    )
    customer = await writer.repository.find_customer("sip", "bot2")
    assert customer is not None
    assert found.customer_id == customer.id
    await interactions.close()


async def test_a_transferred_call_is_one_interaction_with_both_agents_times_and_a_note(
    writer: HistoryWriter,
) -> None:
    """Agent 1001 talks 30 s and transfers the call to billing; its next segment (``-t1``)
    waits and is answered by 1002, who talks 20 s: one interaction, the last agent, the
    first wait, talk and wrap-up summed, a note saying who transferred it where."""
    interactions = HistoryInteractions(writer, wall=lambda: NOW)
    call = CallAttributes("c9", "SIP/caller-09", "+441632960779", "en")
    interactions.queued(call, "support")
    interactions.answered("c9", agent_id="1001", wait_s=8.0)
    told: list[tuple[float, AcdEvent]] = [
        (100.0, CallAnswered("c9", "1001", "support")),
        (130.0, AgentStateChanged("1001", "on_call", "wrap_up", "hung_up", "", "c9")),
        (130.0, CallEnded("c9", "1001", "support")),
        (140.0, CallAnswered("c9-t1", "1002", "billing")),
        (145.0, AgentStateChanged("1001", "wrap_up", "available", "wrapup_done", "", "c9")),
        (160.0, AgentStateChanged("1002", "on_call", "wrap_up", "hung_up", "", "c9-t1")),
        (160.0, CallEnded("c9-t1", "1002", "billing")),
        (163.0, AgentStateChanged("1002", "wrap_up", "available", "wrapup_done", "", "c9-t1")),
    ]
    for at, happened in told[:3]:
        interactions.observe(EventRecord(1, at, happened))
    interactions.transferred("c9", segment="c9-t1", by_agent="1001", target="queue billing")
    interactions.moved("c9", "billing")
    interactions.answered("c9-t1", agent_id="1002", wait_s=40.0)
    for at, happened in told[3:]:
        interactions.observe(EventRecord(1, at, happened))
    interactions.ended("c9", outcome=Outcome.ANSWERED)
    await interactions.flush()

    found = await stored(writer, "c9")
    assert (found.agent, found.queue, found.outcome) == ("1002", "billing", "answered")
    assert (found.wait_s, found.talk_s, found.wrap_s) == (8.0, 50.0, 18.0)
    with pytest.raises(UnknownInteraction):
        await stored(writer, "c9-t1")
    async with writer.repository.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT author, body FROM notes WHERE interaction_id = :id"), {"id": found.id}
        )
        assert [tuple(row) for row in rows] == [("agent:1001", "transferred to queue billing")]
    await interactions.close()
