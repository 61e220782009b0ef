"""AcdService without sockets: agents' actions, telephony facts, the timer, the AMI feed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from acd.agent_events import (
    Answered,
    Busy,
    HungUp,
    IllegalTransition,
    Login,
    OfferRang,
    Pause,
    RingNoAnswer,
    UnknownAgent,
    WrapUpDone,
)
from acd.build import AcdSetup, build_acd
from acd.calls import IncomingCall
from acd.events import CallAbandoned, EventRejected, InMemoryEventSink
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from center.agent_feed import PHONE_IN_USE, AmiAgentFeed
from center.service import AcdService
from telephony.ami_codec import AmiMessage

from .support import PRIORITY, QUEUES, wait_until

AGENTS = [("1001", {"internet": 2}), ("1002", {"internet": 2, "billing": 1})]


class Bench:
    """A service on the real clock with an in-memory log."""

    def __init__(self, agents: Sequence[tuple[str, dict[str, int]]] = AGENTS) -> None:
        self.sink = InMemoryEventSink()
        self.service = AcdService(setup_of(agents), sink=self.sink)

    def events(self, kind: type) -> list[Any]:
        return [r.event for r in self.sink.records() if isinstance(r.event, kind)]


def setup_of(agents: Sequence[tuple[str, dict[str, int]]]) -> AcdSetup:
    return build_acd(
        PriorityConfig.model_validate(PRIORITY),
        QueuesConfig.model_validate({"queues": QUEUES}),
        AgentsConfig.model_validate(
            {
                "policy": {"wrap_up_s": 0.05},
                "agents": [{"id": a, "endpoint": f"SIP/agent{a}", "skills": s} for a, s in agents],
            }
        ),
    )


@pytest.fixture
async def bench() -> AsyncIterator[Bench]:
    made = Bench()
    await made.service.start()
    try:
        yield made
    finally:
        await made.service.close()


@pytest.fixture
def service(bench: Bench) -> AcdService:
    return bench.service


async def test_agent_actions_raise_the_cores_typed_errors(
    bench: Bench, service: AcdService
) -> None:
    service.agent_event(Login("1001"))
    with pytest.raises(IllegalTransition, match="already logged in"):
        service.agent_event(Login("1001"))
    with pytest.raises(UnknownAgent):
        service.agent_event(Pause("9999", "lunch"))
    with pytest.raises(IllegalTransition):
        service.agent_event(WrapUpDone("1001"))
    assert len(bench.events(EventRejected)) == 3  # nothing lost from the log


async def test_login_all_logs_every_configured_agent_in() -> None:
    acd = Bench().service
    await acd.start(login_all=True)
    try:
        assert {v.agent_id: v.state.value for v in acd.distributor.book.views()} == {
            "1001": "available",
            "1002": "available",
        }
    finally:
        await acd.close()


async def test_wrap_up_ends_on_the_timer_and_an_idle_acd_does_not_tick(
    service: AcdService,
) -> None:
    ticks = 0
    tick = service.distributor.tick

    def counting() -> Any:
        nonlocal ticks
        ticks += 1
        return tick()

    service.distributor.tick = counting  # type: ignore[method-assign]
    await asyncio.sleep(0.1)
    assert ticks == 0  # nothing scheduled: the timer sleeps
    service.agent_event(Login("1001"))
    ticket = service.call_arrived(IncomingCall("c1", "support"))
    offer = ticket.offers.get_nowait()
    assert service.fact(Answered(offer.agent_id, "c1"))
    assert service.fact(HungUp(offer.agent_id, "c1"))
    assert service.distributor.book.view("1001").state.value == "wrap_up"
    await wait_until(
        lambda: service.distributor.book.view("1001").state.value == "available", timeout_s=1
    )
    assert ticks == 1


async def test_duplicate_and_late_telephony_facts_are_ignored_quietly(
    bench: Bench, service: AcdService
) -> None:
    service.agent_event(Login("1001"))
    ticket = service.call_arrived(IncomingCall("c1", "support"))
    ticket.offers.get_nowait()
    assert service.fact(Answered("1001", "c1"))
    assert not service.fact(Answered("1001", "c1"))  # AMI and the dial outcome both tell it
    assert not service.fact(RingNoAnswer("1001", "c1"))  # too late: answered already
    assert not service.fact(OfferRang("1001", "other-call"))
    assert not service.fact(HungUp("nobody", "c1"))
    assert bench.events(EventRejected) == []
    assert service.distributor.book.view("1001").state.value == "on_call"


async def test_a_busy_agent_rests_then_is_ready_again(service: AcdService) -> None:
    service.agent_event(Login("1001"))
    service.call_arrived(IncomingCall("c1", "support")).offers.get_nowait()
    assert service.offer_failed(Busy("1001", "c1"), rest_s=0.05)
    view = service.distributor.book.view("1001")
    assert (view.state.value, view.pause_reason) == ("paused", "rest after busy")
    await wait_until(
        lambda: service.distributor.book.view("1001").state.value == "offered", timeout_s=1
    )


async def test_an_offer_for_a_call_nobody_waits_for_is_withdrawn(
    bench: Bench, service: AcdService
) -> None:
    ticket = service.call_arrived(IncomingCall("c1", "support"))
    service.release(ticket)  # the session is gone before any agent was free
    service.agent_event(Login("1001"))
    assert service.distributor.book.view("1001").state.value == "available"
    assert [e.reason for e in bench.events(CallAbandoned)] == ["session ended"]


# the AMI feed, fed by hand ---------------------------------------------------------------
def event(name: str, **fields: str) -> AmiMessage:
    return AmiMessage.of(("Event", name), **fields)


async def test_ami_events_for_unknown_channels_and_devices_are_ignored(
    bench: Bench,
    service: AcdService,
) -> None:
    feed = AmiAgentFeed(service)
    service.agent_event(Login("1001"))
    feed.handle(event("DialBegin", Channel="SIP/stranger-01", DestChannel="SIP/agent1001-01"))
    feed.handle(
        event("DialEnd", Channel="SIP/stranger-01", DestChannel="SIP/x-1", DialStatus="ANSWER")
    )
    feed.handle(event("Hangup", Channel="SIP/agent1001-01"))
    feed.handle(event("DeviceStateChange", Device="SIP/printer", State="INUSE"))
    assert service.distributor.book.view("1001").state.value == "available"
    assert bench.events(EventRejected) == []


async def test_an_agents_phone_in_use_pauses_them_until_it_is_idle_again(
    service: AcdService,
) -> None:
    feed = AmiAgentFeed(service)
    service.agent_event(Login("1001"))
    feed.handle(event("DeviceStateChange", Device="SIP/agent1001", State="INUSE"))
    view = service.distributor.book.view("1001")
    assert (view.state.value, view.pause_reason) == ("paused", PHONE_IN_USE)
    feed.handle(event("DeviceStateChange", Device="sip/AGENT1001", State="NOT_INUSE"))
    assert service.distributor.book.view("1001").state.value == "available"


async def test_a_pause_the_agent_chose_is_not_lifted_by_the_phone(service: AcdService) -> None:
    feed = AmiAgentFeed(service)
    service.agent_event(Login("1001", paused_reason="lunch"))
    feed.handle(event("DeviceStateChange", Device="SIP/agent1001", State="INUSE"))
    feed.handle(event("DeviceStateChange", Device="SIP/agent1001", State="NOT_INUSE"))
    assert service.distributor.book.view("1001").pause_reason == "lunch"


async def test_the_feed_follows_an_offer_from_ring_to_hang_up(service: AcdService) -> None:
    feed = AmiAgentFeed(service)
    service.agent_event(Login("1001"))
    ticket = service.call_arrived(IncomingCall("c1", "support", line="SIP/caller-01"))
    offer = ticket.offers.get_nowait()
    leg = "SIP/agent1001-0000002a"
    with service.dialing("SIP/caller-01", offer):  # the caller's Dial, until it returns
        feed.handle(event("DialBegin", Channel="SIP/caller-01", DestChannel=leg))
        assert service.distributor.book.view("1001").channel == leg
        feed.handle(event("DialEnd", Channel="SIP/caller-01", DestChannel=leg, DialStatus="ANSWER"))
        assert service.distributor.book.view("1001").state.value == "on_call"
        feed.handle(event("Hangup", Channel=leg))
    assert service.distributor.book.view("1001").state.value == "wrap_up"
    assert ticket.gone.is_set()
    assert service.dial_of("SIP/caller-01") is None


@dataclass(frozen=True)
class PhonesOnPeer:
    """What ``center.phone_registry`` tells the feed: agent1001's phone is on a peer."""

    trunk_legs: frozenset[str] = frozenset({"pjsip/peer-asterisk-b-"})

    def registered_elsewhere(self, endpoint: str) -> bool:
        return endpoint.lower() == "sip/agent1001"


async def test_an_agent_rung_through_the_trunk_is_followed_on_the_trunks_leg(
    service: AcdService,
) -> None:
    feed = AmiAgentFeed(service, elsewhere=PhonesOnPeer())
    service.agent_event(Login("1001"))
    ticket = service.call_arrived(IncomingCall("c1", "support", line="SIP/caller-01"))
    offer = ticket.offers.get_nowait()
    leg = "PJSIP/peer-asterisk-b-00000007"
    with service.dialing("SIP/caller-01", offer):
        feed.handle(event("DialBegin", Channel="SIP/caller-01", DestChannel=leg))
        assert service.distributor.book.view("1001").channel == leg
        feed.handle(event("DialEnd", Channel="SIP/caller-01", DestChannel=leg, DialStatus="ANSWER"))
        assert service.distributor.book.view("1001").state.value == "on_call"
        feed.handle(event("Hangup", Channel=leg))
    assert service.distributor.book.view("1001").state.value == "wrap_up"


async def test_a_leg_on_another_channel_is_still_not_the_agents(service: AcdService) -> None:
    feed = AmiAgentFeed(service, elsewhere=PhonesOnPeer())
    service.agent_event(Login("1001"))
    ticket = service.call_arrived(IncomingCall("c1", "support", line="SIP/caller-01"))
    with service.dialing("SIP/caller-01", ticket.offers.get_nowait()):
        feed.handle(event("DialBegin", Channel="SIP/caller-01", DestChannel="PJSIP/trunk-01"))
    assert service.distributor.book.view("1001").channel in ("", None)


async def test_a_phone_registered_on_a_peer_is_not_unreachable_here(service: AcdService) -> None:
    feed = AmiAgentFeed(service, elsewhere=PhonesOnPeer())
    service.agent_event(Login("1001"))
    service.agent_event(Login("1002"))
    feed.handle(event("DeviceStateChange", Device="SIP/agent1001", State="UNAVAILABLE"))
    assert service.distributor.book.view("1001").state.value == "available"
    feed.handle(event("DeviceStateChange", Device="SIP/agent1002", State="UNAVAILABLE"))
    assert service.distributor.book.view("1002").state.value == "paused"
