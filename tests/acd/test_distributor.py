"""Bad input and faults: defined outcomes, and nothing lost from the event log."""

from __future__ import annotations

import pytest

from acd.agent_events import (
    AgentState,
    Answered,
    Busy,
    IllegalTransition,
    Login,
    Logout,
    OfferRang,
    Pause,
    RingNoAnswer,
    StaleCallEvent,
    UnknownAgent,
    Unreachable,
)
from acd.calls import IncomingCall
from acd.events import (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallRequeued,
    EventRejected,
)
from acd.router import RoutingError
from tests.acd.centre import Centre

QUEUES = {"support": {"required": {"internet": 1}, "strategy": "linear"}}
AGENTS = {"a1": {"internet": 1}, "a2": {"internet": 1}}


def centre() -> Centre:
    return Centre(QUEUES, AGENTS)


def test_login_twice_is_rejected_and_logged() -> None:
    c = centre()
    c.acd.agent_event(Login("a1"))
    with pytest.raises(IllegalTransition):
        c.acd.agent_event(Login("a1"))
    [rejected] = c.events(EventRejected)
    assert (rejected.subject, rejected.event) == ("a1", "login")
    assert "already logged in" in rejected.reason


def test_pause_for_unknown_agent_is_rejected_and_logged() -> None:
    c = centre()
    with pytest.raises(UnknownAgent):
        c.acd.agent_event(Pause("ghost", "lunch"))
    assert c.events(EventRejected)[0].subject == "ghost"


def test_telephony_fact_for_an_unknown_call_is_rejected_and_logged() -> None:
    c = centre()
    c.acd.agent_event(Login("a1"))
    with pytest.raises(StaleCallEvent):
        c.acd.agent_event(Answered("a1", "no-such-call"))
    assert c.events(EventRejected)[0].event == "answered"
    assert c.acd.book.state("a1") is AgentState.AVAILABLE


def test_hangup_of_an_unknown_call_is_logged_and_ignored() -> None:
    c = centre()
    assert c.acd.caller_hung_up("never-seen") == []
    assert c.events(EventRejected)[0].reason == "unknown call"


def test_call_for_an_unknown_queue_is_refused() -> None:
    c = centre()
    with pytest.raises(RoutingError, match="unknown queue"):
        c.acd.call_arrived(IncomingCall("c1", "nowhere"))
    assert c.events(EventRejected)[0].subject == "c1"


def test_call_that_hangs_up_while_being_offered_frees_the_agent() -> None:
    c = centre()
    c.acd.agent_event(Login("a1"))
    [offer] = c.acd.call_arrived(IncomingCall("c1", "support"))
    c.acd.agent_event(OfferRang("a1", "c1", "SIP/a1-1"))
    assert c.acd.caller_hung_up("c1") == []
    assert c.acd.book.state("a1") is AgentState.AVAILABLE
    [abandoned] = c.events(CallAbandoned)
    assert abandoned.during_offer
    assert offer.agent_id == "a1"
    assert c.events(CallRequeued) == []
    assert c.acd.router.waiting_count == 0
    assert c.acd.router.offered_count == 0


def test_waiting_caller_hanging_up_is_an_abandon() -> None:
    c = centre()
    c.acd.call_arrived(IncomingCall("c1", "support"))
    c.acd.caller_hung_up("c1")
    assert c.events(CallAbandoned)[0].during_offer is False
    assert c.acd.call_state("c1") is None


def test_busy_and_unreachable_phones_send_the_call_back_with_its_place() -> None:
    c = Centre(QUEUES, {**AGENTS, "a3": {"internet": 1}})
    c.acd.agent_event(Login("a1"))
    c.acd.call_arrived(IncomingCall("first", "support"))
    c.clock.advance(3)
    c.acd.call_arrived(IncomingCall("second", "support"))
    c.acd.agent_event(Busy("a1", "first"))  # busy: back to available (policy), offered again
    assert c.acd.call_state("first") == "offered"
    c.acd.agent_event(Unreachable("a1", "first"))
    assert c.acd.book.view("a1").pause_reason == "unreachable"
    [offer] = c.acd.agent_event(Login("a2"))
    assert offer.call_id == "first"
    assert len(c.events(CallRequeued)) == 2


def test_logout_while_ringing_takes_effect_when_the_offer_fails() -> None:
    c = centre()
    c.acd.agent_event(Login("a1"))
    c.acd.call_arrived(IncomingCall("c1", "support"))
    c.acd.agent_event(Logout("a1"))
    assert c.acd.book.state("a1") is AgentState.OFFERED
    c.acd.agent_event(RingNoAnswer("a1", "c1"))
    assert c.acd.book.state("a1") is AgentState.LOGGED_OUT
    assert not c.acd.router.has_agent("a1")
    assert c.acd.call_state("c1") == "waiting"


def test_reconcile_repairs_stale_offers_calls_and_vanished_callers() -> None:
    c = Centre(QUEUES, {**AGENTS, "a3": {"internet": 1}})
    for agent in ("a1", "a2"):
        c.acd.agent_event(Login(agent))
    c.acd.call_arrived(IncomingCall("talking", "support", line="SIP/caller-1"))
    c.acd.agent_event(OfferRang("a1", "talking", "SIP/a1-1"))
    c.acd.agent_event(Answered("a1", "talking"))
    c.acd.call_arrived(IncomingCall("ringing", "support", line="SIP/caller-2"))
    c.acd.agent_event(OfferRang("a2", "ringing", "SIP/a2-1"))
    c.acd.call_arrived(IncomingCall("waiting", "support", line="SIP/caller-3"))
    # after an AMI reconnect: the first call is over, a2's phone stopped ringing, the
    # waiting caller hung up unseen; only caller-2 is still there
    offers = c.acd.reconcile({"SIP/caller-2"})
    assert c.events(CallEnded)[0].call_id == "talking"
    assert [e.call_id for e in c.events(CallAbandoned)] == ["waiting"]
    assert [e.call_id for e in c.events(CallRequeued)] == ["ringing"]
    # both agents are free again; "ringing" is offered to the first in line
    assert [(o.call_id, o.agent_id) for o in offers] == [("ringing", "a1")]


def test_every_change_is_in_the_log_in_sequence() -> None:
    c = centre()
    c.acd.agent_event(Login("a1"))
    c.acd.call_arrived(IncomingCall("c1", "support"))
    c.acd.agent_event(Answered("a1", "c1"))
    c.clock.advance(30)
    c.acd.caller_hung_up("c1")
    records = list(c.sink.records())
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    kinds = [type(r.event).__name__ for r in records]
    assert kinds == [
        "AgentStateChanged",  # login
        "CallQueued",
        "CallOffered",
        "AgentStateChanged",  # offered
        "AgentStateChanged",  # answered
        "CallAnswered",
        "AgentStateChanged",  # hung up -> available
        "CallEnded",
    ]
    states = [(e.before, e.after) for e in c.events(AgentStateChanged)]
    assert states[-1] == ("on_call", "available")
    assert c.events(CallAnswered)[0].agent_id == "a1"


def test_duplicate_call_id_is_refused() -> None:
    c = centre()
    c.acd.call_arrived(IncomingCall("c1", "support"))
    with pytest.raises(RoutingError, match="already queued"):
        c.acd.call_arrived(IncomingCall("c1", "support"))
