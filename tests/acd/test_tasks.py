"""One ACD for every channel: chats, e-mails and voicemails are tasks an agent holds several
at a time within their capacity, beside the one call their phone takes; the same priority
decides across channels, a digital offer is a reservation accepted or rejected in time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from acd.agent_events import AgentState, Answered, HungUp, Login, Logout, OfferRang
from acd.calls import CallFacts, IncomingCall
from acd.digital_tasks import DESKTOP_LOST, DISCONNECTED
from acd.events import (
    AgentTaskChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallQueued,
    CallRequeued,
    EventRejected,
)
from acd.policy import AgentsConfig
from acd.workload import StaleTask, TaskPhase
from tests.acd.centre import Centre

QUEUES = {"support": {"required": {"internet": 1}, "strategy": "linear"}}
PRIORITY = {"tiers": {"gold": 30}}
THREE_CHATS = {"digital": {"chat": 3, "email": 1}, "total": 3}


def centre(
    agents: tuple[str, ...] = ("a1",), capacity: dict[str, Any] | None = None, **policy: Any
) -> Centre:
    c = Centre(
        QUEUES,
        {a: {"internet": 1} for a in agents},
        priority=PRIORITY,
        capacity=THREE_CHATS if capacity is None else capacity,
        agent_policy={"reservation_timeout_s": 20, **policy},
    )
    for agent in agents:
        c.acd.agent_event(Login(agent))
    return c


def task(task_id: str, channel: str, tier: str | None = None) -> IncomingCall:
    return IncomingCall(task_id, "support", CallFacts(tier=tier), channel=channel)


def offered(c: Centre, agent: str) -> list[str]:
    return [t.task_id for t in c.acd.tasks_of(agent) if t.phase is TaskPhase.RESERVED]


def test_an_agent_is_offered_chats_up_to_their_capacity_and_the_next_one_waits() -> None:
    c = centre()
    for n in range(4):
        c.acd.call_arrived(task(f"chat{n}", "chat"))
    assert offered(c, "a1") == ["chat0", "chat1", "chat2"]  # three at once
    assert c.acd.call_state("chat3") == "waiting"
    c.acd.task_accepted("a1", "chat0")
    c.acd.task_done("a1", "chat0")  # a place frees up: the waiting chat is offered
    assert offered(c, "a1") == ["chat1", "chat2", "chat3"]
    assert [e.channel for e in c.events(CallQueued)] == ["chat"] * 4
    (ended,) = c.events(CallEnded)
    assert (ended.call_id, ended.agent_id) == ("chat0", "a1")


def test_the_limit_across_channels_holds_whatever_the_mix() -> None:
    c = centre(capacity={"digital": {"chat": 3, "email": 2}, "total": 3})
    for n in range(3):
        c.acd.call_arrived(task(f"mail{n}", "email"))
    c.acd.call_arrived(task("chat0", "chat"))
    c.acd.call_arrived(task("chat1", "chat"))
    held = sorted(t.task_id for t in c.acd.tasks_of("a1"))
    assert held == ["chat0", "mail0", "mail1"]  # two e-mails (its limit), one chat (total 3)


def test_the_highest_priority_task_is_served_first_whatever_its_channel() -> None:
    c = centre()
    c.acd.agent_event(Logout("a1"))
    c.acd.call_arrived(task("call", "voice"))
    c.acd.call_arrived(task("gold-chat", "chat", tier="gold"))
    (first,) = c.acd.agent_event(Login("a1"))
    assert (first.call_id, first.channel) == ("gold-chat", "chat")
    assert "chat task gold-chat" in first.explain()
    # by default a call waits for an agent with no chat open
    assert c.acd.call_state("call") == "waiting"
    c.acd.task_accepted("a1", "gold-chat")
    (second,) = c.acd.task_done("a1", "gold-chat")
    assert (second.call_id, second.channel) == ("call", "voice")


def test_a_chat_near_its_target_goes_before_an_older_email_far_from_its_own() -> None:
    """Service-level risk counts to each channel's target: a chat's minute, an e-mail's
    hours; with the call's 20 s target for both, the older e-mail would go first."""
    queues = {
        "support": {
            "required": {"internet": 1},
            "sl_risk": {"points": 50, "after_target": "keep"},
            "channel_targets_s": {"chat": 60, "email": 14_400},
        }
    }
    c = Centre(
        queues, {"a1": {"internet": 1}}, capacity={"digital": {"chat": 1, "email": 1}, "total": 1}
    )
    c.acd.call_arrived(task("mail0", "email"))
    c.clock.advance(1.0)
    c.acd.call_arrived(task("chat0", "chat"))
    c.clock.advance(49.0)  # the chat waited 49 s of 60, the e-mail 50 s of 4 h
    (offer,) = c.acd.agent_event(Login("a1"))
    assert offer.call_id == "chat0"
    assert "sl_risk[waited 49.0 s of 60 s target]" in offer.explain()


def test_a_call_goes_to_the_agent_with_no_digital_work_open() -> None:
    c = centre(agents=("a1", "a2"))
    c.acd.call_arrived(task("chat0", "chat"))
    (holder,) = [a for a in ("a1", "a2") if c.acd.tasks_of(a)]
    (offer,) = c.acd.call_arrived(task("call", "voice"))
    assert offer.agent_id != holder


def test_a_busy_phone_blocks_new_chats_unless_the_capacity_allows_chats_during_calls() -> None:
    for during_voice, expected in ((False, []), (True, ["chat0"])):
        c = centre(capacity={**THREE_CHATS, "during_voice": during_voice})
        c.acd.call_arrived(task("call", "voice"))
        c.acd.agent_event(OfferRang("a1", "call", "PJSIP/agent-1"))
        c.acd.agent_event(Answered("a1", "call"))
        c.acd.call_arrived(task("chat0", "chat"))
        assert offered(c, "a1") == expected


def test_an_agent_holding_chats_takes_calls_up_to_voice_with() -> None:
    c = centre(capacity={**THREE_CHATS, "voice_with": 1})
    c.acd.call_arrived(task("chat0", "chat"))
    c.acd.task_accepted("a1", "chat0")
    (offer,) = c.acd.call_arrived(task("call", "voice"))
    assert offer.agent_id == "a1"


def test_an_unanswered_reservation_is_a_ring_no_answer_and_the_task_keeps_its_place() -> None:
    c = centre(agents=("a1", "a2"))
    c.acd.agent_event(Logout("a2"))
    c.acd.call_arrived(task("chat0", "chat"))
    assert offered(c, "a1") == ["chat0"]
    c.clock.advance(20.0)
    assert c.acd.next_wakeup() == c.clock.now
    c.acd.tick()
    (requeued,) = c.events(CallRequeued)
    assert (requeued.call_id, requeued.agent_id, requeued.reason) == ("chat0", "a1", "no answer")
    view = c.acd.book.view("a1")
    assert (view.state, view.pause_reason) == (AgentState.PAUSED, "no answer")
    (offer,) = c.acd.agent_event(Login("a2"))
    assert (offer.call_id, offer.agent_id) == ("chat0", "a2")
    assert offer.waited_s == pytest.approx(20.0)  # its place: the entry time is kept


def test_a_declined_task_goes_to_the_next_agent_and_the_one_who_declined_is_paused() -> None:
    """As Genesys Cloud ("not responding") and Amazon Connect ("missed") do: an agent who
    declines is not offered the same task again at once."""
    c = centre(agents=("a1", "a2"), capacity={"digital": {"email": 1}})
    c.acd.call_arrived(task("mail0", "email"))
    (first,) = [a for a in ("a1", "a2") if offered(c, a)]
    other = "a2" if first == "a1" else "a1"
    (offer,) = c.acd.task_rejected(first, "mail0")
    assert (offer.call_id, offer.agent_id) == ("mail0", other)
    view = c.acd.book.view(first)
    assert (view.state, view.pause_reason) == (AgentState.PAUSED, "declined")
    assert c.events(CallRequeued)[0].reason == "declined"


def test_logging_out_puts_open_chats_back_in_line_with_their_place() -> None:
    c = centre(agents=("a1", "a2"))
    c.acd.agent_event(Logout("a2"))
    c.acd.call_arrived(task("chat0", "chat"))
    c.clock.advance(1.0)
    c.acd.call_arrived(task("chat1", "chat"))
    c.acd.task_accepted("a1", "chat0")
    c.clock.advance(5.0)
    c.acd.agent_event(Logout("a1"))  # closed the browser
    assert c.acd.tasks_of("a1") == ()
    assert {e.call_id for e in c.events(CallRequeued)} == {"chat0", "chat1"}
    offers = c.acd.agent_event(Login("a2"))  # entry times kept: the older first
    assert [(o.call_id, o.waited_s) for o in offers] == [("chat0", 6.0), ("chat1", 5.0)]


def test_an_agent_whose_desktop_is_gone_is_paused_and_their_chats_go_to_others() -> None:
    """Closed the browser mid-chat: still logged in, paused "disconnected"; the chat they
    were offered and the one they had open go back in line with their place kept."""
    c = centre(agents=("a1", "a2"))
    c.acd.agent_event(Logout("a2"))
    c.acd.call_arrived(task("chat0", "chat"))
    c.clock.advance(1.0)
    c.acd.call_arrived(task("chat1", "chat"))
    c.acd.task_accepted("a1", "chat0")
    c.clock.advance(5.0)
    assert c.acd.desktop_lost("a1") == []  # nobody else to offer them to yet
    assert c.acd.tasks_of("a1") == ()
    view = c.acd.book.view("a1")
    assert (view.state, view.pause_reason) == (AgentState.PAUSED, DISCONNECTED)
    requeued = [(e.call_id, e.agent_id, e.reason) for e in c.events(CallRequeued)]
    assert sorted(requeued) == [("chat0", "a1", DESKTOP_LOST), ("chat1", "a1", DESKTOP_LOST)]
    gone = {(e.call_id, e.before, e.after) for e in c.events(AgentTaskChanged)}
    assert {("chat0", "active", ""), ("chat1", "reserved", "")} <= gone
    offers = c.acd.agent_event(Login("a2"))  # entry times kept: the older first
    assert [(o.call_id, o.agent_id, o.waited_s) for o in offers] == [
        ("chat0", "a2", 6.0),
        ("chat1", "a2", 5.0),
    ]
    assert c.acd.call_state("chat0") == "offered"  # offered again, to be accepted again
    c.acd.task_accepted("a2", "chat0")
    assert [e.call_id for e in c.events(CallAnswered)] == ["chat0", "chat0"]


def test_an_agent_on_a_call_whose_desktop_is_gone_keeps_the_call() -> None:
    """The phone does not need the browser: the call goes on, the pause waits for its end;
    the chats go to others at once."""
    c = centre(agents=("a1", "a2"), capacity={**THREE_CHATS, "during_voice": True})
    c.acd.agent_event(Logout("a2"))
    c.acd.call_arrived(task("call", "voice"))
    c.acd.agent_event(Answered("a1", "call"))
    c.acd.call_arrived(task("chat0", "chat"))
    c.acd.task_accepted("a1", "chat0")
    c.acd.desktop_lost("a1")
    view = c.acd.book.view("a1")
    assert (view.state, view.call_id) == (AgentState.ON_CALL, "call")
    assert (view.pending, view.pending_reason) == ("pause", DISCONNECTED)
    assert c.acd.call_state("chat0") == "waiting"
    assert c.acd.call_state("call") == "connected"
    c.acd.agent_event(HungUp("a1", "call"))
    view = c.acd.book.view("a1")
    assert (view.state, view.pause_reason) == (AgentState.PAUSED, DISCONNECTED)
    assert c.events(CallEnded)[-1].call_id == "call"


def test_a_logged_out_agent_losing_their_desktop_changes_nothing() -> None:
    c = centre(agents=("a1",))
    c.acd.agent_event(Logout("a1"))
    before = len(c.sink.records())
    assert c.acd.desktop_lost("a1") == []
    assert len(c.sink.records()) == before
    assert c.acd.book.view("a1").state is AgentState.LOGGED_OUT


def test_a_customer_who_leaves_ends_the_chat_or_abandons_it() -> None:
    c = centre(agents=("a1", "a2"), capacity={"digital": {"chat": 1}})
    c.acd.call_arrived(task("talking", "chat"))
    c.acd.call_arrived(task("offered", "chat"))
    c.acd.call_arrived(task("waiting", "chat"))
    talking_agent = c.acd.workload.holder("talking")
    assert talking_agent is not None
    c.acd.task_accepted(talking_agent, "talking")
    for gone in ("waiting", "offered", "talking"):
        c.acd.caller_left(gone, "customer left")
    (ended,) = c.events(CallEnded)
    assert (ended.call_id, ended.reason) == ("talking", "customer left")
    abandoned = {(e.call_id, e.during_offer) for e in c.events(CallAbandoned)}
    assert abandoned == {("offered", True), ("waiting", False)}
    assert all(c.acd.tasks_of(a) == () for a in ("a1", "a2"))


def test_wrap_up_after_a_chat_counts_against_capacity_until_it_ends() -> None:
    c = centre(capacity={"digital": {"chat": 1}}, task_wrap_up_s=30)
    c.acd.call_arrived(task("chat0", "chat"))
    c.acd.call_arrived(task("chat1", "chat"))
    c.acd.task_accepted("a1", "chat0")
    c.acd.task_done("a1", "chat0")
    assert [t.phase for t in c.acd.tasks_of("a1")] == [TaskPhase.WRAP_UP]
    assert c.acd.call_state("chat1") == "waiting"
    c.clock.advance(30.0)
    c.acd.tick()
    assert offered(c, "a1") == ["chat1"]
    phases = [(e.call_id, e.before, e.after) for e in c.events(AgentTaskChanged)]
    assert phases[:4] == [
        ("chat0", "", "reserved"),
        ("chat0", "reserved", "active"),
        ("chat0", "active", "wrap_up"),
        ("chat0", "wrap_up", ""),
    ]


def test_task_actions_on_tasks_the_agent_does_not_hold_are_refused_and_logged() -> None:
    c = centre(agents=("a1", "a2"))
    c.acd.agent_event(Logout("a2"))
    c.acd.call_arrived(task("chat0", "chat"))
    acd = c.acd
    refused: list[tuple[Callable[[str, str], object], str, str]] = [
        (acd.task_accepted, "a2", "chat0"),  # someone else's
        (acd.task_done, "a1", "chat0"),  # not accepted yet
        (acd.task_accepted, "a1", "nothing"),
        (acd.task_rejected, "ghost", "chat0"),
    ]
    for action, agent, task_id in refused:
        with pytest.raises(StaleTask):
            action(agent, task_id)
    assert [e.event for e in c.events(EventRejected)] == [
        "task_accepted",
        "task_done",
        "task_accepted",
        "task_rejected",
    ]
    assert offered(c, "a1") == ["chat0"]  # nothing changed
    c.acd.task_accepted("a1", "chat0")
    assert c.events(CallAnswered)[-1].call_id == "chat0"


def test_a_call_ending_reopens_the_digital_channels() -> None:
    c = centre()
    c.acd.call_arrived(task("call", "voice"))
    c.acd.agent_event(Answered("a1", "call"))
    c.acd.call_arrived(task("chat0", "chat"))
    assert offered(c, "a1") == []
    c.acd.agent_event(HungUp("a1", "call"))  # no wrap-up in these tests
    assert offered(c, "a1") == ["chat0"]


def test_the_voice_seat_is_not_a_digital_channel_in_the_config() -> None:
    with pytest.raises(ValueError, match="one call at a time"):
        AgentsConfig.model_validate({"capacity": {"digital": {"voice": 2}}})
    config = AgentsConfig.model_validate(
        {
            "capacity": {"digital": {"chat": 2}},
            "agents": [{"id": "a1"}, {"id": "a2", "capacity": {"digital": {"email": 5}}}],
        }
    )
    assert config.capacity.capacity().total == 2
    assert config.agents[1].capacity is not None
    assert config.agents[1].capacity.capacity().digital == {"email": 5}
