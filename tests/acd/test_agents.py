"""The agent state machine: transitions, refused events, wrap-up, RONA, reconcile."""

from __future__ import annotations

import pytest

from acd.agent_events import (
    AgentState,
    Answered,
    Busy,
    HungUp,
    IllegalTransition,
    Login,
    Logout,
    OfferMade,
    OfferRang,
    Pause,
    Ready,
    RingNoAnswer,
    StaleCallEvent,
    UnknownAgent,
    Unreachable,
    WrapUpDone,
)
from acd.agents import AgentBook, AgentPolicy
from acd.clock import ManualClock

S = AgentState


def book(policy: AgentPolicy | None = None, *agents: str) -> tuple[AgentBook, ManualClock]:
    clock = ManualClock(100.0)
    return AgentBook(agents or ("a1", "a2"), clock=clock, policy=policy or AgentPolicy()), clock


def on_call(b: AgentBook, agent: str = "a1", call: str = "c1", channel: str = "SIP/a1-1") -> None:
    b.apply(Login(agent))
    b.apply(OfferMade(agent, call))
    b.apply(OfferRang(agent, call, channel))
    b.apply(Answered(agent, call))


def test_full_call_cycle_with_timed_wrap_up() -> None:
    b, clock = book(AgentPolicy(wrap_up_s=10))
    on_call(b)
    clock.advance(60)
    t = b.apply(HungUp("a1", "c1"))
    assert (t.before, t.after, t.call_id) == (S.ON_CALL, S.WRAP_UP, "c1")
    assert b.next_deadline() == 170.0
    clock.advance(9)
    assert b.tick() == []
    clock.advance(1)
    [done] = b.tick()
    assert (done.before, done.after, done.call_id) == (S.WRAP_UP, S.AVAILABLE, "c1")
    view = b.view("a1")
    assert view.calls_handled == 1
    assert view.last_call_end == 160.0
    assert b.idle_since("a1") == 160.0


def test_wrap_up_until_done_waits_for_the_agent() -> None:
    b, _ = book(AgentPolicy(wrap_up_s=None))
    on_call(b)
    b.apply(HungUp("a1", "c1"))
    assert b.next_deadline() is None
    assert b.apply(WrapUpDone("a1")).after is S.AVAILABLE


def test_login_twice_is_rejected_with_reason() -> None:
    b, _ = book()
    b.apply(Login("a1"))
    with pytest.raises(IllegalTransition) as error:
        b.apply(Login("a1"))
    assert error.value.reason == "already logged in (available)"
    assert error.value.state is S.AVAILABLE
    assert b.state("a1") is S.AVAILABLE


def test_pause_for_unknown_agent_is_a_typed_error() -> None:
    b, _ = book()
    with pytest.raises(UnknownAgent):
        b.apply(Pause("nobody", "lunch"))


def test_pause_and_logout_need_a_login() -> None:
    b, _ = book()
    for event in (Pause("a1"), Logout("a1"), Ready("a1"), WrapUpDone("a1")):
        with pytest.raises(IllegalTransition):
            b.apply(event)
    assert b.state("a1") is S.LOGGED_OUT


def test_ring_no_answer_pauses_the_agent_with_reason_and_counts() -> None:
    b, _ = book()
    b.apply(Login("a1"))
    b.apply(OfferMade("a1", "c1"))
    t = b.apply(RingNoAnswer("a1", "c1"))
    assert t.after is S.PAUSED
    view = b.view("a1")
    assert view.pause_reason == "no answer"
    assert view.rona_count == 1
    assert view.call_id is None


def test_no_answer_pause_is_configurable() -> None:
    b, _ = book(AgentPolicy(rona_pause_reason=None))
    b.apply(Login("a1"))
    b.apply(OfferMade("a1", "c1"))
    assert b.apply(RingNoAnswer("a1", "c1")).after is S.AVAILABLE


def test_busy_and_unreachable_phones_follow_their_policies() -> None:
    b, _ = book(AgentPolicy(busy_pause_reason=None, unavailable_pause_reason="unreachable"))
    b.apply(Login("a1"))
    b.apply(OfferMade("a1", "c1"))
    assert b.apply(Busy("a1", "c1")).after is S.AVAILABLE
    b.apply(OfferMade("a1", "c2"))
    assert b.apply(Unreachable("a1", "c2")).after is S.PAUSED
    assert b.view("a1").pause_reason == "unreachable"


def test_pause_during_a_call_applies_after_it() -> None:
    b, _ = book(AgentPolicy(wrap_up_s=0))
    on_call(b)
    t = b.apply(Pause("a1", "lunch"))
    assert t.before == t.after == S.ON_CALL
    assert "after the current" in t.reason
    assert b.apply(HungUp("a1", "c1")).after is S.PAUSED
    assert b.view("a1").pause_reason == "lunch"


def test_logout_during_a_call_applies_after_it() -> None:
    b, _ = book(AgentPolicy(wrap_up_s=5))
    on_call(b)
    b.apply(Logout("a1"))
    b.apply(HungUp("a1", "c1"))
    assert b.apply(WrapUpDone("a1")).after is S.LOGGED_OUT


def test_ready_cancels_a_pending_pause() -> None:
    b, _ = book()
    on_call(b)
    b.apply(Pause("a1"))
    b.apply(Ready("a1"))
    assert b.apply(HungUp("a1", "c1")).after is S.AVAILABLE


def test_telephony_fact_for_another_call_is_stale() -> None:
    b, _ = book()
    on_call(b)
    with pytest.raises(StaleCallEvent):
        b.apply(HungUp("a1", "c-other"))
    with pytest.raises(StaleCallEvent):
        b.apply(Answered("a2", "c1"))  # a2 is logged out
    assert b.state("a1") is S.ON_CALL


def test_offer_is_only_made_to_an_available_agent() -> None:
    b, _ = book()
    b.apply(Login("a1", paused_reason="briefing"))
    with pytest.raises(IllegalTransition):
        b.apply(OfferMade("a1", "c1"))


def test_caller_gone_while_ringing_returns_the_agent_to_available() -> None:
    b, _ = book()
    b.apply(Login("a1"))
    b.apply(OfferMade("a1", "c1"))
    t = b.apply(HungUp("a1", "c1"))
    assert t.after is S.AVAILABLE
    assert b.view("a1").calls_handled == 0


def test_reconcile_clears_offers_and_calls_whose_channels_are_gone() -> None:
    b, _ = book(AgentPolicy(wrap_up_s=0), "a1", "a2", "a3")
    on_call(b, "a1", "c1", "SIP/a1-1")
    b.apply(Login("a2"))
    b.apply(OfferMade("a2", "c2"))
    b.apply(OfferRang("a2", "c2", "SIP/a2-1"))
    b.apply(Login("a3"))
    b.apply(OfferMade("a3", "c3"))  # not rung yet: no channel to judge by
    repairs = b.reconcile(live_channels={"SIP/unrelated-9"})
    assert {(r.agent_id, r.before, r.after, r.call_id) for r in repairs} == {
        ("a1", S.ON_CALL, S.AVAILABLE, "c1"),
        ("a2", S.OFFERED, S.AVAILABLE, "c2"),
    }
    assert b.state("a3") is S.OFFERED
    assert b.view("a1").calls_handled == 1


def test_reconcile_leaves_live_channels_alone() -> None:
    b, _ = book()
    on_call(b)
    assert b.reconcile({"SIP/a1-1"}) == []
    assert b.state("a1") is S.ON_CALL


def test_time_in_state_and_counts_by_state() -> None:
    b, clock = book()
    b.apply(Login("a1"))
    clock.advance(42)
    assert b.view("a1").time_in_state(clock()) == 42
    counts = b.counts_by_state()
    assert counts[S.AVAILABLE] == 1
    assert counts[S.LOGGED_OUT] == 1
