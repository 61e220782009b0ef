"""The offer loop both voice paths share (``center.offer_loop``), driven on a live ACD with
a hand-turned clock: a failed phone is told to the ACD and not rung again for the call
before ``retry_s``, an agent without a phone counts as unreachable, a stale offer is
neither rung nor told, and whatever else ends the wait is handed back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from acd.agent_events import Busy, Login, RingNoAnswer
from acd.build import build_acd
from acd.calls import IncomingCall
from acd.events import CallRequeued, InMemoryEventSink
from acd.offer import Offer
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from center.offer_loop import OfferLoop, PhoneFailed, PhoneRoute, same_phone
from center.service import AcdService, CallTicket
from center.settings import WaitingConfig

from .support import PRIORITY, QUEUES

#: No pause for any failed ring: the ACD offers the call to the same agent again at once.
NO_PAUSES = {
    "rona_pause_reason": None,
    "busy_pause_reason": None,
    "unavailable_pause_reason": None,
}
SETTINGS = WaitingConfig.model_validate({"retry_s": 2, "failed_offer_rest_s": 0})
TALKED = "talked"


class Floor:
    """One queue, agents with and without a phone, a clock the hold-offs turn."""

    def __init__(self, *, endpoint: str = "SIP/agent1001") -> None:
        self.clock = 100.0
        self.sink = InMemoryEventSink()
        setup = build_acd(
            PriorityConfig.model_validate(PRIORITY),
            QueuesConfig.model_validate({"queues": QUEUES}),
            AgentsConfig.model_validate(
                {
                    "policy": NO_PAUSES,
                    "agents": [{"id": "1001", "endpoint": endpoint, "skills": {"internet": 2}}],
                }
            ),
        )
        self.service = AcdService(setup, sink=self.sink, clock=lambda: self.clock)
        self.rung: list[tuple[str, str, float]] = []
        self.pauses: list[float] = []

    async def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.clock += seconds

    def loop(
        self,
        next_offer: Callable[[], Awaitable[Offer | str]],
        answers: list[PhoneFailed | str],
        settings: WaitingConfig = SETTINGS,
        route: PhoneRoute = same_phone,
        system: str | None = None,
    ) -> OfferLoop[str, str]:
        """Each ring is answered by the next of ``answers`` (a failure, or the call taken)."""

        async def ring(offer: Offer, endpoint: str) -> str | PhoneFailed:
            self.rung.append((offer.agent_id, endpoint, self.clock))
            answer = answers.pop(0)
            if isinstance(answer, PhoneFailed):
                return PhoneFailed(type(answer.fact)(offer.agent_id, offer.call_id), answer.rest)
            return answer

        return OfferLoop(
            self.service,
            lambda: settings,
            next_offer=next_offer,
            ring=ring,
            pause=self.pause,
            route=route,
            system=system,
        )

    def requeued(self) -> list[str]:
        return [r.event.reason for r in self.sink.records() if isinstance(r.event, CallRequeued)]


def offers_of(ticket: CallTicket, *, at_most: int) -> Callable[[], Awaitable[Offer | str]]:
    """The ticket's offers; "enough" after ``at_most`` of them, "gone" if the ACD let go."""
    taken = 0

    async def next_offer() -> Offer | str:
        nonlocal taken
        if taken == at_most:
            return "enough"
        taken += 1
        offer = await ticket.next_offer()
        return "gone" if offer is None else offer

    return next_offer


async def test_a_failed_phone_is_told_to_the_acd_and_held_off_before_it_rings_again() -> None:
    floor = Floor()
    floor.service.agent_event(Login("1001"))
    ticket = floor.service.call_arrived(IncomingCall("c1", "support"))
    busy = PhoneFailed(Busy("", ""))
    loop = floor.loop(offers_of(ticket, at_most=3), [busy, busy, TALKED])

    assert await loop.serve() == TALKED
    assert floor.requeued() == ["busy", "busy"]  # back in line after each failure
    assert [(agent, at) for agent, _, at in floor.rung] == [
        ("1001", 100.0),
        ("1001", 102.0),  # retry_s after its failure
        ("1001", 104.0),
    ]
    assert floor.pauses == [2.0, 2.0]


async def test_no_hold_off_for_a_phone_that_failed_long_enough_ago() -> None:
    floor = Floor()
    floor.service.agent_event(Login("1001"))
    ticket = floor.service.call_arrived(IncomingCall("c1", "support"))

    async def late_offers() -> Offer | str:
        offer = await ticket.next_offer()
        floor.clock += 5  # the next offer came later than retry_s after the failure
        return "gone" if offer is None else offer

    loop = floor.loop(late_offers, [PhoneFailed(RingNoAnswer("", "")), TALKED])
    assert await loop.serve() == TALKED
    assert floor.pauses == []
    assert floor.requeued() == ["ring no answer"]


async def test_an_agent_with_no_phone_is_unreachable_and_held_off_like_a_failed_one() -> None:
    floor = Floor(endpoint="")
    floor.service.agent_event(Login("1001"))
    ticket = floor.service.call_arrived(IncomingCall("c1", "support"))
    loop = floor.loop(offers_of(ticket, at_most=3), [])

    assert await loop.serve() == "enough"
    assert floor.rung == []  # nothing to ring
    assert floor.requeued() == ["unavailable"] * 3
    assert floor.pauses == [2.0, 2.0]  # not offered round and round at once


async def test_a_failed_phone_may_rest_unless_it_was_never_reached() -> None:
    resting = WaitingConfig.model_validate({"retry_s": 2, "failed_offer_rest_s": 30})
    for rest, expected in ((True, "rest after busy"), (False, None)):
        floor = Floor()
        floor.service.agent_event(Login("1001"))
        ticket = floor.service.call_arrived(IncomingCall("c1", "support"))
        loop = floor.loop(offers_of(ticket, at_most=1), [PhoneFailed(Busy("", ""), rest)], resting)
        await loop.serve()
        assert floor.service.distributor.book.view("1001").pause_reason == expected
        await floor.service.close()


async def test_a_stale_offer_is_neither_rung_nor_told() -> None:
    floor = Floor()
    floor.service.agent_event(Login("1001"))
    ticket = floor.service.call_arrived(IncomingCall("c1", "support"))
    stale = ticket.offers.get_nowait()
    floor.service.caller_hung_up("c1")  # the caller left before the phone was rung
    handed: list[Offer | str] = [stale, "gone"]

    async def next_offer() -> Offer | str:
        return handed.pop(0)

    loop = floor.loop(next_offer, [])
    assert await loop.serve() == "gone"  # what ended the wait comes back
    assert floor.rung == []
    assert floor.requeued() == []


async def test_the_hold_off_is_kept_when_the_wait_goes_on_after_something_else() -> None:
    floor = Floor()
    floor.service.agent_event(Login("1001"))
    ticket = floor.service.call_arrived(IncomingCall("c1", "support"))
    told = ["an offer", "a key", "an offer"]

    async def next_offer() -> Offer | str:
        if told.pop(0) == "a key":
            return "callback key, no number: keeps waiting"
        offer = await ticket.next_offer()
        return "gone" if offer is None else offer

    loop = floor.loop(next_offer, [PhoneFailed(Busy("", "")), TALKED])
    assert await loop.serve() == "callback key, no number: keeps waiting"
    assert await loop.serve() == TALKED
    assert floor.pauses == [2.0]  # the same call: the same phone held off


async def test_the_phone_is_rung_as_the_route_says_to_reach_it_from_here() -> None:
    """A phone registered on a peer Asterisk is rung through the trunk to it
    (``center.phone_registry``); its failure counts for the agent as any other."""
    floor = Floor(endpoint="PJSIP/agent1001")
    floor.service.agent_event(Login("1001"))
    ticket = floor.service.call_arrived(IncomingCall("c1", "support"))
    loop = floor.loop(
        offers_of(ticket, at_most=2),
        [PhoneFailed(Busy("", "")), TALKED],
        route=lambda endpoint, system=None: f"{endpoint}@peer-asterisk-b",
    )
    assert await loop.serve() == TALKED
    assert [endpoint for _, endpoint, _ in floor.rung] == [
        "PJSIP/agent1001@peer-asterisk-b",
        "PJSIP/agent1001@peer-asterisk-b",
    ]
    assert floor.requeued() == ["busy"]


async def test_the_route_is_asked_from_the_calls_own_asterisk() -> None:
    """A node may serve the FastAGI of an Asterisk other than its AMI's: the dial string is
    chosen from the call's (``center.phone_locations.call_system``)."""
    floor = Floor(endpoint="PJSIP/agent1001")
    floor.service.agent_event(Login("1001"))
    ticket = floor.service.call_arrived(IncomingCall("asterisk-b-1733000000.1", "support"))
    asked: list[tuple[str, str | None]] = []

    def route(endpoint: str, system: str | None = None) -> str:
        asked.append((endpoint, system))
        return endpoint if system == "asterisk-b" else f"{endpoint}@peer-asterisk-b"

    loop = floor.loop(offers_of(ticket, at_most=1), [TALKED], route=route, system="asterisk-b")
    assert await loop.serve() == TALKED
    assert asked == [("PJSIP/agent1001", "asterisk-b")]
    assert [endpoint for _, endpoint, _ in floor.rung] == ["PJSIP/agent1001"]
