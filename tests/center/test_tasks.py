"""Digital tasks on the live ACD: handed in without a session, offered as reservations the
agent answers from the desktop, expiring on the service's own timer; every event about a
task reaches the channel adapters' listeners."""

from __future__ import annotations

import asyncio

import pytest

from acd.agent_events import Login
from acd.build import AcdSetup, build_acd
from acd.calls import IncomingCall
from acd.events import CallOffered, CallRequeued, EventRecord, InMemoryEventSink
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from acd.workload import StaleTask, TaskPhase
from center.service import AcdService
from tests.center.support import PRIORITY, QUEUES
from tests.e2e.stack import wait_until


def setup(reservation_timeout_s: float) -> AcdSetup:
    return build_acd(
        PriorityConfig.model_validate(PRIORITY),
        QueuesConfig.model_validate({"queues": QUEUES}),
        AgentsConfig.model_validate(
            {
                "policy": {"wrap_up_s": 0, "reservation_timeout_s": reservation_timeout_s},
                "capacity": {"digital": {"chat": 2, "email": 1}},
                "agents": [{"id": a, "skills": {"internet": 1}} for a in ("a1", "a2")],
            }
        ),
    )


async def test_a_chat_is_offered_accepted_and_closed_and_its_listener_hears_each_step() -> None:
    service = AcdService(setup(30.0), sink=InMemoryEventSink())
    heard: list[tuple[str, str]] = []

    def listen(record: EventRecord, task: IncomingCall) -> None:
        heard.append((type(record.event).__name__, task.channel))

    service.on_task(listen)
    await service.start()
    try:
        service.agent_event(Login("a1"))
        service.task_arrived(IncomingCall("chat1", "support", channel="chat"))
        (held,) = service.distributor.tasks_of("a1")
        assert (held.task_id, held.phase) == ("chat1", TaskPhase.RESERVED)
        assert service.task("chat1") is not None
        service.task_accepted("a1", "chat1")
        service.task_done("a1", "chat1")
    finally:
        await service.close()
    kinds = [kind for kind, _ in heard]
    assert kinds[:2] == ["CallQueued", "CallOffered"]
    assert "CallAnswered" in kinds
    assert kinds[-1] == "CallEnded"  # the last word on a task: it is forgotten
    assert {channel for _, channel in heard} == {"chat"}
    assert service.task("chat1") is None  # forgotten once it ended
    assert service.distributor.tasks_of("a1") == ()


async def test_an_unanswered_reservation_expires_on_the_timer_and_goes_to_another_agent() -> None:
    sink = InMemoryEventSink()
    service = AcdService(setup(0.05), sink=sink)
    await service.start()
    try:
        service.agent_event(Login("a1"))
        service.task_arrived(IncomingCall("mail1", "support", channel="email"))
        # a2 is free, but mail1 is a1's until the reservation expires
        service.agent_event(Login("a2"))
        await wait_until(lambda: any(isinstance(r.event, CallRequeued) for r in sink.records()))
        await wait_until(lambda: bool(service.distributor.tasks_of("a2")))
    finally:
        await service.close()
    offers = [r.event.agent_id for r in sink.records() if isinstance(r.event, CallOffered)]
    assert offers == ["a1", "a2"]
    assert service.distributor.book.view("a1").pause_reason == "no answer"


async def test_a_call_channel_is_refused_as_a_task_and_stale_answers_raise() -> None:
    service = AcdService(setup(30.0), sink=InMemoryEventSink())
    with pytest.raises(ValueError, match="comes as a call"):
        service.task_arrived(IncomingCall("c1", "support", channel="voice"))
    service.agent_event(Login("a1"))
    service.task_arrived(IncomingCall("chat1", "support", channel="chat"))
    with pytest.raises(StaleTask):
        service.task_done("a1", "chat1")
    await asyncio.sleep(0)
    assert [t.task_id for t in service.distributor.tasks_of("a1")] == ["chat1"]
    assert not [r for r in service.recent_offers if r.call_id != "chat1"]
    await service.close()
